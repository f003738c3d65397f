/**
 * Just enough of GoBGP 3.x's gRPC API to bulk-load routes: the
 * `apipb.GobgpApi/AddPathStream` client-streaming call, spoken over
 * node:http2 on gobgpd's unix-socket API (`--api-hosts unix://PATH`, so the
 * benchmark process reaches it from outside the namespace), with the few
 * protobuf messages it needs encoded by hand. LAB.md: `gobgp mrt inject`
 * silently drops the tail in 3.10 and the CLI adds one route per process, so
 * bulk loads go through this API.
 *
 * Messages (field numbers from GoBGP's api/gobgp.proto and attribute.proto, v3):
 *
 *   AddPathStreamRequest { TableType table_type = 1; string vrf_id = 2; repeated Path paths = 3; }
 *   Path                 { Any nlri = 1; repeated Any pattrs = 2; Family family = 9; }
 *   Family               { Afi afi = 1; Safi safi = 2; }        AFI_IP 1, AFI_IP6 2, SAFI_UNICAST 1
 *   Any                  { string type_url = 1; bytes value = 2; }
 *   IPAddressPrefix      { uint32 prefix_len = 1; string prefix = 2; }
 *   OriginAttribute      { uint32 origin = 1; }                  0 = IGP (the zero value: empty body)
 *   NextHopAttribute     { string next_hop = 1; }
 *   MpReachNLRIAttribute { Family family = 1; repeated string next_hops = 2; repeated Any nlris = 3; }
 *
 * gRPC framing (per message): | compressed flag (1) | length (4, big-endian) | protobuf |
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';

const TYPE = 'type.googleapis.com/apipb.';

/** A growable protobuf byte buffer. */
class Pb {
  private buf = Buffer.allocUnsafe(1 << 16);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }

  varint(v: number): this {
    this.room(10);
    while (v > 0x7f) {
      this.buf[this.len++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
    return this;
  }

  /** Field with wire type 0 (varint); zero values are left out as proto3 does. */
  uint(field: number, v: number): this {
    if (v === 0) return this;
    return this.varint((field << 3) | 0).varint(v);
  }

  /** Field with wire type 2 (length-delimited). */
  bytes(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2).varint(b.length);
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

const any = (type: string, value: Uint8Array): Buffer => new Pb().string(1, TYPE + type).bytes(2, value).done();
const family = (afi: 1 | 2): Buffer => new Pb().uint(1, afi).uint(2, 1).done();

/** Encode one unicast host-route Path with ORIGIN IGP and the given next hop. */
export function encodePath(prefix: string, nextHop: string): Buffer {
  const [addr = '', lenText = ''] = prefix.split('/');
  const v6 = addr.includes(':');
  const nlri = any('IPAddressPrefix', new Pb().uint(1, Number(lenText)).string(2, addr).done());
  const p = new Pb().bytes(1, nlri).bytes(2, ORIGIN_IGP);
  if (v6) {
    const mp = new Pb().bytes(1, FAMILY6).string(2, nextHop).bytes(3, nlri).done();
    p.bytes(2, any('MpReachNLRIAttribute', mp));
  } else {
    p.bytes(2, any('NextHopAttribute', new Pb().string(1, nextHop).done()));
  }
  return p.bytes(9, v6 ? FAMILY6 : FAMILY4).done();
}

const ORIGIN_IGP = any('OriginAttribute', new Uint8Array(0));
const FAMILY4 = family(1);
const FAMILY6 = family(2);

/** Frame one protobuf message for gRPC (uncompressed). */
function grpcFrame(msg: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}

/**
 * Stream every prefix into gobgpd's global RIB with AddPathStream, `batch`
 * paths per request message; resolve once the server has answered (it
 * answers after processing the whole stream).
 */
export async function addPathStream(socketPath: string, prefixes: Iterable<string>, nextHop: (prefix: string) => string, batch = 1000): Promise<void> {
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('error', reject);
      const req = session.request({
        ':method': 'POST',
        ':path': '/apipb.GobgpApi/AddPathStream',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let status: string | undefined;
      let message = '';
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      });
      req.on('trailers', (h) => {
        status = String(h['grpc-status'] ?? status);
        message = String(h['grpc-message'] ?? '');
      });
      req.on('data', () => {});
      req.on('error', reject);
      req.on('close', () => {
        if (status === '0') resolve();
        else reject(new Error(`AddPathStream failed: grpc-status ${status ?? '(none)'} ${decodeURIComponent(message)}`));
      });
      const write = async (): Promise<void> => {
        let req1 = new Pb();
        let n = 0;
        const flush = async (): Promise<void> => {
          if (n === 0) return;
          const ok = req.write(grpcFrame(req1.done()));
          req1 = new Pb();
          n = 0;
          if (!ok) await new Promise<void>((r) => req.once('drain', () => r()));
        };
        for (const p of prefixes) {
          req1.bytes(3, encodePath(p, nextHop(p)));
          if (++n >= batch) await flush();
        }
        await flush();
        req.end();
      };
      write().catch(reject);
    });
  } finally {
    session.close();
  }
}
