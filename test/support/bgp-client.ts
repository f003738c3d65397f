/**
 * A tiny BGP peer for tests on loopback, built from raw bytes (RFC 4271 §4)
 * and deliberately not from herald's codecs: it writes what it is told and
 * cuts what it reads by the 19-octet header alone. Used by the import-safety
 * test (huge AS_PATHs from a configured peer) and its full-size run
 * (test/bench/huge-as-path.ts), and by the LXD and checks benchmarks
 * (test/bench/lxd.ts reads the IPv4 withdrawals and NLRI of the UPDATEs it
 * is sent with `ipv4Prefixes`).
 */
import * as net from 'node:net';

const MARKER = new Uint8Array(16).fill(0xff);

/** A whole message: marker, length, type, body. */
export function message(type: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const m = new Uint8Array(19 + body.length);
  m.set(MARKER);
  m[16] = m.length >>> 8;
  m[17] = m.length & 0xff;
  m[18] = type;
  m.set(body, 19);
  return m;
}

/** OPEN with Multiprotocol IPv4 unicast, 4-octet AS and, when asked, Extended Message (RFC 8654). */
export function openMessage(asn: number, bgpId: string, o: { hold?: number; extendedMessage?: boolean } = {}): Uint8Array {
  const caps = [1, 4, 0, 1, 0, 1, 65, 4, asn >>> 24, (asn >>> 16) & 0xff, (asn >>> 8) & 0xff, asn & 0xff];
  if (o.extendedMessage) caps.push(6, 0);
  const id = bgpId.split('.').map(Number);
  const hold = o.hold ?? 90;
  const my = asn > 0xffff ? 23456 : asn;
  return message(1, Uint8Array.of(4, my >>> 8, my & 0xff, hold >>> 8, hold & 0xff, ...id, caps.length + 2, 2, caps.length, ...caps));
}

export const KEEPALIVE = message(4);

/**
 * An UPDATE announcing one IPv4 /32 with ORIGIN IGP, NEXT_HOP and an
 * AS_SEQUENCE path of `pathLength` 4-octet AS numbers (segments of 255).
 */
export function hugePathUpdate(prefix: number, nextHop: string, firstAs: number, pathLength: number): Uint8Array {
  const nsegs = Math.ceil(pathLength / 255);
  const pathLen = 2 * nsegs + 4 * pathLength;
  const attrsLen = 4 + (4 + pathLen) + 7;
  const body = new Uint8Array(4 + attrsLen + 5);
  const v = new DataView(body.buffer);
  let o = 0;
  v.setUint16(o, 0); // withdrawn routes length
  v.setUint16(o + 2, attrsLen);
  o += 4;
  body.set([0x40, 1, 1, 0], o); // ORIGIN IGP
  o += 4;
  body.set([0x50, 2], o); // AS_PATH, extended length
  v.setUint16(o + 2, pathLen);
  o += 4;
  for (let left = pathLength, k = 0; left > 0; left -= 255) {
    const n = Math.min(255, left);
    body[o++] = 2; // AS_SEQUENCE
    body[o++] = n;
    for (let i = 0; i < n; i++, k++, o += 4) v.setUint32(o, k === 0 ? firstAs : 4_200_000_000 + (k % 1000));
  }
  body.set([0x40, 3, 4, ...nextHop.split('.').map(Number)], o); // NEXT_HOP
  o += 7;
  body[o] = 32;
  v.setUint32(o + 1, prefix >>> 0);
  return message(2, body);
}

export interface Received {
  type: number;
  /** NOTIFICATION: code, subcode, data. */
  code?: number;
  subcode?: number;
  data?: number[];
}

/** One TCP connection that speaks BGP by hand. */
export class RawPeer {
  readonly received: Received[] = [];
  closed = false;
  /** Called with every whole message as it arrives (the bytes are valid only during the call). */
  onMessage: ((type: number, message: Uint8Array) => void) | null = null;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 19) {
        const len = this.buf.readUInt16BE(16);
        if (len < 19 || this.buf.length < len) break;
        const m = this.buf.subarray(0, len);
        const r: Received = { type: m[18]! };
        if (r.type === 3) {
          r.code = m[19]!;
          r.subcode = m[20]!;
          r.data = [...m.subarray(21)];
        }
        this.received.push(r);
        this.onMessage?.(r.type, m);
        this.buf = this.buf.subarray(len);
      }
      this.wake();
    });
    const end = (): void => {
      this.closed = true;
      this.wake();
    };
    sock.on('close', end);
    sock.on('end', end);
    sock.on('error', () => {});
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static connect(host: string, port: number, localAddress: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, localAddress }, () => {
        s.off('error', reject);
        resolve(new RawPeer(s));
      });
      s.once('error', reject);
    });
  }

  /** Wait until `pred` holds (checked on every arrival), or fail after `ms`. */
  async until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; received types ${this.received.map((r) => r.type).join(',')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Write and wait until the kernel took it (backpressure honoured). */
  send(b: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.sock.destroyed) return resolve();
      if (this.sock.write(b)) resolve();
      else {
        const done = (): void => {
          this.sock.off('drain', done);
          this.sock.off('close', done);
          resolve();
        };
        this.sock.once('drain', done);
        this.sock.once('close', done);
      }
    });
  }

  /** OPEN, wait for herald's OPEN and KEEPALIVE, KEEPALIVE: Established. */
  async establish(asn: number, bgpId: string, o: { extendedMessage?: boolean } = {}): Promise<void> {
    await this.send(openMessage(asn, bgpId, o));
    await this.until(() => this.received.some((r) => r.type === 1) && this.received.some((r) => r.type === 4), 5_000, 'OPEN and KEEPALIVE');
    await this.send(KEEPALIVE);
  }

  notification(): Received | undefined {
    return this.received.find((r) => r.type === 3);
  }

  close(): void {
    this.sock.destroy();
  }
}

/**
 * The IPv4 prefixes an UPDATE withdraws and announces in its body (RFC 4271
 * §4.3: Withdrawn Routes, then the path attributes, then NLRI), as
 * "a.b.c.d/len"; MP_REACH / MP_UNREACH are not read.
 */
export function ipv4Prefixes(msg: Uint8Array): { withdrawn: string[]; nlri: string[] } {
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const read = (from: number, to: number): string[] => {
    const out: string[] = [];
    for (let o = from; o < to; ) {
      const len = msg[o]!;
      const n = Math.ceil(len / 8);
      const b = [0, 0, 0, 0];
      for (let i = 0; i < n; i++) b[i] = msg[o + 1 + i]!;
      out.push(`${b.join('.')}/${len}`);
      o += 1 + n;
    }
    return out;
  };
  const wl = v.getUint16(19);
  const al = v.getUint16(21 + wl);
  return { withdrawn: read(21, 21 + wl), nlri: read(23 + wl + al, msg.length) };
}
