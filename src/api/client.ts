/**
 * A client of the control API (src/api/server.ts) over its unix socket, for
 * the `routes` CLI and tests. Streams route lists line by line instead of
 * buffering them, and turns connection failures into one error that says
 * what to do. No RFC: herald's own protocol (docs/api.md).
 *
 * One request per connection, written by hand, its answer read by the one
 * HTTP/1.1 response framer (src/sources/lxd/http1.ts: Content-Length,
 * chunked, close-delimited). node:http is not loaded: it was ~7 % of
 * node's own start-up, and `routes` is a command an operator runs by hand
 * (issue 11: the summary in at most 1.3 × `node -e ''`).
 */
import * as net from 'node:net';
import { ResponseFramer } from '../sources/lxd/http1.js';
/** The daemon could not be reached at all (CLI exit code 2). */
export class UnreachableError extends Error {
  constructor(
    readonly socket: string,
    readonly reason: string,
  ) {
    super(unreachableMessage(socket, reason));
  }
}

/** The daemon answered with an error (`{"error":{"code","message"}}`). */
export class ApiResponseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The whole JSON body (e.g. a refused reload's `errors`). */
    readonly body: unknown,
  ) {
    super(message);
  }
}

function unreachableMessage(socket: string, code: string): string {
  if (code === 'EACCES' || code === 'EPERM') return `permission denied on ${socket}: is your user in group herald? (or run with sudo)`;
  if (code === 'ENOENT') return `cannot reach ${socket}: no such socket; is herald running? (or pass --socket PATH / set HERALD_SOCKET)`;
  return `cannot reach ${socket}: is herald running? is your user in group herald? (${code})`;
}

/** One answer: its status and its body as it arrives. */
interface Answer {
  status: number;
  body: AsyncIterable<Buffer>;
}

export class ApiClient {
  /** What the daemon said this socket allows (the `x-herald-access` header of the last answer); null before one. */
  access: 'operator' | 'read-only' | null = null;

  constructor(readonly socket: string) {}

  /** GET a JSON document. */
  async get<T>(path: string): Promise<T> {
    return (await readJson(await this.request('GET', path))) as T;
  }

  /** POST a JSON body and return the JSON answer (an error status throws ApiResponseError). */
  async post<T>(path: string, body: unknown = {}): Promise<T> {
    return (await readJson(await this.request('POST', path, JSON.stringify(body)))) as T;
  }

  /** GET a streamed JSON array and call `each` per element as it arrives; returns the count. */
  async stream<T>(path: string, each: (item: T) => void): Promise<number> {
    const res = await this.request('GET', path);
    if (res.status >= 400) await readJson(res);
    let n = 0;
    for await (const line of lines(res.body)) {
      if (line === '[' || line === ']' || line === '') continue;
      each(JSON.parse(line.startsWith(',') ? line.slice(1) : line) as T);
      n++;
    }
    return n;
  }

  /** GET a streamed array and copy its raw bytes to `out` (for `--json`: no parse, no buffering). */
  async pipe(path: string, out: NodeJS.WritableStream): Promise<void> {
    const res = await this.request('GET', path);
    if (res.status >= 400) await readJson(res);
    for await (const chunk of res.body) {
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
    }
  }

  /** Follow /v1/events; calls `each(type, data)` per event until the signal aborts or the daemon goes away. */
  async events(each: (type: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.request('GET', '/v1/events', undefined, signal);
    if (res.status >= 400) await readJson(res);
    let type = 'message';
    let data = '';
    try {
      for await (const line of lines(res.body)) {
        if (line.startsWith(':')) continue;
        if (line === '') {
          if (data) each(type, JSON.parse(data));
          type = 'message';
          data = '';
        } else if (line.startsWith('event: ')) type = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
    } catch (e) {
      if (!signal?.aborted) throw e;
    }
  }

  /**
   * Send one request on a new connection; resolves once the answer's status
   * and header fields are in, its body following through `body`. A socket
   * that cannot be reached rejects with UnreachableError; an abort, with
   * an AbortError.
   */
  private request(method: string, path: string, body?: string, signal?: AbortSignal): Promise<Answer> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const chunks = new BodyQueue();
      let access: string | undefined;
      let answered = false;
      const framer = new ResponseFramer({
        header: (name, value) => {
          if (name === 'x-herald-access') access = value;
        },
        status: (status) => {
          answered = true;
          if (access === 'operator' || access === 'read-only') this.access = access;
          resolve({ status, body: chunks });
        },
        body: (b, s, e) => chunks.push(Buffer.from(b.subarray(s, e))),
        end: () => {
          chunks.end(null);
          sock.destroy();
        },
      });
      const sock = net.connect({ path: this.socket });
      const onAbort = (): void => {
        sock.destroy();
        const e = abortError();
        if (!answered) reject(e);
        chunks.end(e);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('connect', () => {
        const head = `${method} ${path} HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n`;
        // Not end(): a half-closed client makes node's server end its answer early.
        sock.write(body === undefined ? `${head}\r\n` : `${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      });
      sock.on('data', (c: Buffer) => {
        try {
          framer.push(c, 0, c.length);
        } catch (e) {
          sock.destroy();
          if (!answered) reject(e as Error);
          chunks.end(e as Error);
        }
      });
      sock.on('end', () => {
        try {
          framer.eof();
        } catch (e) {
          if (!answered) reject(e as Error);
          chunks.end(e as Error);
        }
      });
      sock.on('error', (e: NodeJS.ErrnoException) => {
        if (!answered) reject(new UnreachableError(this.socket, e.code ?? e.message));
        chunks.end(e);
      });
      sock.on('close', () => {
        signal?.removeEventListener('abort', onAbort);
        if (!answered) reject(new UnreachableError(this.socket, 'the connection closed before an answer'));
        chunks.end(null);
      });
    });
  }
}

function abortError(): Error {
  const e = new Error('the operation was aborted');
  e.name = 'AbortError';
  return e;
}

/**
 * Body chunks handed from the socket to one reader; ends with null or an
 * error. The same queue as bgp's PushQueue, kept here: importing it through
 * bgp/index pulled the wire codecs into the `routes` bundle (66 → 92 KB,
 * ~5 % of a call).
 */
class BodyQueue implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private done = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  push(b: Buffer): void {
    if (this.done) return;
    this.queue.push(b);
    this.wake?.();
  }

  /** No more chunks (err: the body was cut short). The first end counts. */
  end(err: Error | null): void {
    if (this.done) return;
    this.done = true;
    this.error = err;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const b = this.queue.shift();
      if (b !== undefined) {
        yield b;
        continue;
      }
      if (this.done) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}

/**
 * The body's lines (LF or CRLF), the last one even without a newline. Split
 * on the bytes, then decoded: an LF octet is never part of a UTF-8
 * sequence, so a character cut between two chunks is whole again here.
 */
async function* lines(body: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const c of body) {
    rest = rest.length === 0 ? c : Buffer.concat([rest, c]);
    let from = 0;
    let i: number;
    while ((i = rest.indexOf(0x0a, from)) >= 0) {
      yield rest.toString('utf8', from, i > from && rest[i - 1] === 0x0d ? i - 1 : i);
      from = i + 1;
    }
    rest = rest.subarray(from);
  }
  if (rest.length > 0) yield rest.toString('utf8');
}

async function readJson(res: Answer): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const c of res.body) parts.push(c);
  const text = Buffer.concat(parts).toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ApiResponseError(res.status, 'bad-response', `the daemon answered HTTP ${res.status} with non-JSON`, text);
  }
  if (res.status >= 400) {
    const err = (v as { error?: { code?: string; message?: string } }).error;
    throw new ApiResponseError(res.status, err?.code ?? `http-${res.status}`, err?.message ?? `HTTP ${res.status}`, v);
  }
  return v;
}
