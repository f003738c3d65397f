/**
 * The HTTP/1.1 GETs of the LXD client over LXD's unix socket: several
 * requests written at once on one connection and their responses read in
 * order (RFC 9112 §9.3.2 pipelining), each connection reading into one
 * buffer it keeps (net's `onread`), body bytes handed to the caller as
 * views of that buffer (decision 0043).
 *
 * Why not node:http: a resync of 10,000 instances on 200 OVN networks is
 * a 25 MB listing and ~450 small GETs. Through node:http each socket read
 * is a new 64 KiB Buffer (25 MB of external memory a resync, which makes V8
 * run full collections of the daemon's heap) and each request a
 * ClientRequest, a write and an IncomingMessage. Here a resync costs a
 * handful of writes and reads into the same few buffers.
 *
 * `ResponseFramer` is pure (no I/O): bytes in, in any pieces; status,
 * body bytes and the end of each response out. It reads what an LXD
 * (Go net/http) or Incus server sends: a status line, header fields, a
 * body framed by Content-Length, by chunked transfer coding (RFC 9112 §7.1,
 * extensions and trailer fields read past) or, without either, by the
 * connection's close (§6.3). Informational (1xx) responses are read past.
 * `Http1Unix` drives it over sockets. HTTPS endpoints keep node:https
 * (client.ts); TLS decryption is the cost there. The control API's client
 * (src/api/client.ts, the `routes` CLI) reads its answers with the same
 * framer, so `routes` loads no node:http.
 */
import * as net from 'node:net';

/** A response stream that is not HTTP/1.1, or a connection that failed. */
export class Http1Error extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'Http1Error';
  }
}

/** What a ResponseFramer hands on. */
export interface ResponseHandler {
  /** A final response's header field (name in lower case), before its status; optional. */
  header?(name: string, value: string): void;
  /** A response's status code (after its header fields). */
  status(code: number): void;
  /** Body bytes: b[s, e), valid only during the call. */
  body(b: Buffer, s: number, e: number): void;
  /** The response is complete; `close`: the server closes the connection after it. */
  end(close: boolean): void;
}

const LF = 0x0a;
/** Header section and chunk-size lines longer than this are refused (LXD's are a few hundred octets). */
const MAX_LINE = 64 * 1024;

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'close';

/** Read HTTP/1.1 responses from a byte stream (pure). */
export class ResponseFramer {
  private state: State = 'head';
  /** The header section, or a chunk-size or trailer line, gathered so far. */
  private line = '';
  private remaining = 0;
  private close = false;
  private done = false;

  constructor(private readonly h: ResponseHandler) {}

  /** Bytes b[s, e) of the stream; throws Http1Error when they are not HTTP/1.1 responses. */
  push(b: Buffer, s: number, e: number): void {
    let i = s;
    while (i < e) {
      if (this.done) throw new Http1Error('data after a response that closes the connection');
      switch (this.state) {
        case 'head': {
          // Up to the empty line; the header section is small.
          const j = b.indexOf(LF, i);
          const stop = j < 0 || j >= e ? e : j + 1;
          this.line += b.toString('latin1', i, stop);
          i = stop;
          if (this.line.length > MAX_LINE) throw new Http1Error('header section too long');
          if (this.line.endsWith('\r\n\r\n') || this.line.endsWith('\n\n')) this.head();
          break;
        }
        case 'length': {
          const n = Math.min(this.remaining, e - i);
          this.h.body(b, i, i + n);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finish();
          break;
        }
        case 'chunk-size':
        case 'chunk-end':
        case 'trailer': {
          const j = b.indexOf(LF, i);
          const stop = j < 0 || j >= e ? e : j + 1;
          this.line += b.toString('latin1', i, stop);
          i = stop;
          if (this.line.length > MAX_LINE) throw new Http1Error('chunk line too long');
          if (this.line.endsWith('\n')) this.lineDone();
          break;
        }
        case 'chunk-data': {
          const n = Math.min(this.remaining, e - i);
          this.h.body(b, i, i + n);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'chunk-end';
          break;
        }
        case 'close':
          this.h.body(b, i, e);
          i = e;
          break;
      }
    }
  }

  /** The connection ended: completes a response framed by the close; throws when one was cut short. */
  eof(): void {
    if (this.state === 'close') {
      this.state = 'head';
      this.done = true;
      this.h.end(true);
      return;
    }
    if (this.state !== 'head' || this.line !== '') throw new Http1Error('the connection closed in the middle of a response');
  }

  /** True between responses (nothing of the next one read yet). */
  get idle(): boolean {
    return this.state === 'head' && this.line === '';
  }

  private head(): void {
    const lines = this.line.split(/\r?\n/);
    this.line = '';
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (!m) throw new Http1Error(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const code = Number(m[2]);
    let length: number | null = null;
    let chunked = false;
    let close = m[1] === '0';
    // RFC 9112 §6.3: a 1xx is followed by the final response, whose fields alone are handed on.
    const informational = code >= 100 && code < 200;
    for (let k = 1; k < lines.length; k++) {
      const l = lines[k]!;
      if (l === '') continue;
      const c = l.indexOf(':');
      if (c <= 0) throw new Http1Error(`malformed header field: ${JSON.stringify(l.slice(0, 80))}`);
      const name = l.slice(0, c).trim().toLowerCase();
      const value = l.slice(c + 1).trim();
      if (!informational) this.h.header?.(name, value);
      if (name === 'content-length') {
        if (!/^\d+$/.test(value) || (length !== null && length !== Number(value))) throw new Http1Error(`bad Content-Length ${JSON.stringify(value)}`);
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        const codings = value.toLowerCase().split(',').map((x) => x.trim());
        // RFC 9112 §6.3: chunked must be the final coding; herald asks for no other.
        if (codings.at(-1) !== 'chunked' || codings.length > 1) throw new Http1Error(`unsupported Transfer-Encoding ${JSON.stringify(value)}`);
        chunked = true;
      } else if (name === 'connection') {
        if (value.toLowerCase().split(',').some((x) => x.trim() === 'close')) close = true;
      }
    }
    // 204 and 304 have no body.
    if (informational) return;
    this.h.status(code);
    this.close = close;
    if (code === 204 || code === 304) return this.finish();
    if (chunked) {
      this.state = 'chunk-size';
      return;
    }
    if (length !== null) {
      if (length === 0) return this.finish();
      this.remaining = length;
      this.state = 'length';
      return;
    }
    this.state = 'close';
  }

  private lineDone(): void {
    const l = this.line.replace(/\r?\n$/, '');
    this.line = '';
    if (this.state === 'chunk-end') {
      if (l !== '') throw new Http1Error('chunk data longer than its size');
      this.state = 'chunk-size';
      return;
    }
    if (this.state === 'trailer') {
      if (l === '') this.finish();
      return;
    }
    // chunk-size [; extensions]
    const m = /^([0-9a-fA-F]{1,8})(?:\s*;.*)?$/.exec(l.trim());
    if (!m) throw new Http1Error(`bad chunk size ${JSON.stringify(l.slice(0, 40))}`);
    const size = parseInt(m[1]!, 16);
    if (size === 0) {
      this.state = 'trailer';
      return;
    }
    this.remaining = size;
    this.state = 'chunk-data';
  }

  private finish(): void {
    this.state = 'head';
    if (this.close) this.done = true;
    this.h.end(this.close);
  }
}

/** One GET's receiver: its status, then its body in pieces (views valid only during the call). */
export interface BodySink {
  (b: Buffer, s: number, e: number): void;
}

/** Read buffer of one connection. */
const READ_BUFFER = 256 * 1024;

/**
 * GETs over a unix socket, pipelined: `getAll` spreads the paths over up
 * to `connections` connections, writes each connection's requests at once
 * and reads the responses in order. A connection the server closes after
 * a response (`Connection: close`) is replaced for the requests left. No
 * connection is kept between calls: a unix socket connects in
 * microseconds, and nothing stale is ever written to.
 */
export class Http1Unix {
  /** Read buffers not in use (one per open connection at most). */
  private readonly buffers: Buffer[] = [];
  private readonly open = new Set<net.Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs: number,
    private readonly connections: number,
  ) {}

  /** GET every path; each body goes to its sink; resolves with the status codes in order. Rejects (Http1Error or the socket's error) on the first failure. */
  async getAll(paths: readonly string[], sinks: readonly BodySink[]): Promise<number[]> {
    const statuses = new Array<number>(paths.length).fill(0);
    const n = Math.min(this.connections, paths.length);
    const shares: number[][] = Array.from({ length: n }, () => []);
    paths.forEach((_, i) => shares[i % n]!.push(i));
    await Promise.all(shares.map((idx) => this.run(paths, sinks, statuses, idx)));
    return statuses;
  }

  /** End every connection in flight (stop). */
  close(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  /** The requests `idx` on one connection (and on new ones if the server closes it after a response). */
  private async run(paths: readonly string[], sinks: readonly BodySink[], statuses: number[], idx: number[]): Promise<void> {
    let left = idx;
    while (left.length > 0) left = await this.connection(paths, sinks, statuses, left);
  }

  /** One connection: write the requests, read the responses; resolves with the requests it could not serve (the server closed it). */
  private connection(paths: readonly string[], sinks: readonly BodySink[], statuses: number[], idx: number[]): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const buffer = this.buffers.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER);
      let k = 0;
      let settled = false;
      let closing = false;
      const settle = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        this.open.delete(sock);
        sock.destroy();
        this.buffers.push(buffer);
        if (err !== null) reject(err);
        else resolve(idx.slice(k));
      };
      const framer = new ResponseFramer({
        status: (code) => void (statuses[idx[k]!] = code),
        body: (b, s, e) => sinks[idx[k]!]!(b, s, e),
        end: (close) => {
          k++;
          if (k === idx.length) settle(null);
          else if (close) closing = true;
        },
      });
      const sock = net.connect({
        path: this.socketPath,
        onread: {
          buffer,
          callback: (nread: number, buf: Uint8Array): boolean => {
            if (settled) return false;
            try {
              framer.push(buf as Buffer, 0, nread);
            } catch (e) {
              settle(e as Error);
              return false;
            }
            return true;
          },
        },
      } as net.NetConnectOpts);
      this.open.add(sock);
      sock.setTimeout(this.timeoutMs, () => settle(new Http1Error(`timeout of ${this.timeoutMs}ms exceeded`, 'ETIMEDOUT')));
      sock.on('error', (e) => settle(e));
      sock.on('end', () => {
        try {
          framer.eof();
        } catch (e) {
          return settle(e as Error);
        }
        // Closed after at least one response: the rest go on a new connection; closed before any: an error (no endless retry).
        settle(k > 0 && (closing || framer.idle) ? null : new Http1Error('the connection closed before every response arrived', 'ECONNRESET'));
      });
      sock.on('close', () => settle(k === idx.length || (k > 0 && closing) ? null : new Http1Error('the connection closed before every response arrived', 'ECONNRESET')));
      let req = '';
      for (const i of idx) req += `GET ${paths[i]} HTTP/1.1\r\nHost: lxd\r\nUser-Agent: herald\r\nAccept: application/json\r\n\r\n`;
      sock.write(req, 'latin1');
    });
  }
}
