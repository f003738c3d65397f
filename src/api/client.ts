/**
 * A client of the control API (src/api/server.ts) over its unix socket, for
 * the `routes` CLI and tests. Streams route lists line by line instead of
 * buffering them, and turns connection failures into one error that says
 * what to do. No RFC: herald's own protocol (docs/api.md).
 */
import * as http from 'node:http';
import * as readline from 'node:readline';

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

export class ApiClient {
  /** What the daemon said this socket allows (the `x-herald-access` header of the last answer); null before one. */
  access: 'operator' | 'read-only' | null = null;

  constructor(readonly socket: string) {}

  /** GET a JSON document. */
  async get<T>(path: string): Promise<T> {
    const res = await this.request('GET', path);
    return (await readJson(res)) as T;
  }

  /** POST a JSON body and return the JSON answer (an error status throws ApiResponseError). */
  async post<T>(path: string, body: unknown = {}): Promise<T> {
    const res = await this.request('POST', path, JSON.stringify(body));
    return (await readJson(res)) as T;
  }

  /** GET a streamed JSON array and call `each` per element as it arrives; returns the count. */
  async stream<T>(path: string, each: (item: T) => void): Promise<number> {
    const res = await this.request('GET', path);
    if ((res.statusCode ?? 500) >= 400) await readJson(res);
    let n = 0;
    for await (const line of readline.createInterface({ input: res, crlfDelay: Infinity })) {
      if (line === '[' || line === ']' || line === '') continue;
      each(JSON.parse(line.startsWith(',') ? line.slice(1) : line) as T);
      n++;
    }
    return n;
  }

  /** GET a streamed array and copy its raw bytes to `out` (for `--json`: no parse, no buffering). */
  async pipe(path: string, out: NodeJS.WritableStream): Promise<void> {
    const res = await this.request('GET', path);
    if ((res.statusCode ?? 500) >= 400) await readJson(res);
    for await (const chunk of res) {
      if (!out.write(chunk as Buffer)) await new Promise((r) => out.once('drain', r));
    }
  }

  /** Follow /v1/events; calls `each(type, data)` per event until the signal aborts or the daemon goes away. */
  async events(each: (type: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.request('GET', '/v1/events', undefined, signal);
    if ((res.statusCode ?? 500) >= 400) await readJson(res);
    let type = 'message';
    let data = '';
    try {
      for await (const line of readline.createInterface({ input: res, crlfDelay: Infinity })) {
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

  private request(method: string, path: string, body?: string, signal?: AbortSignal): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const options: http.RequestOptions & { servername: string } = {
        socketPath: this.socket,
        // Any name that is not an IP address (the field only matters to TLS):
        // without one, node's agent tests the default host 'localhost' with
        // isIP(), whose first call compiles the IPv6 regex, ~20 ms of every
        // `routes` run (issue 5: the summary answers in under 200 ms).
        servername: 'herald',
        path,
        method,
        headers: body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
        ...(signal ? { signal } : {}),
      };
      const req = http.request(options, (res) => {
        const a = res.headers['x-herald-access'];
        if (a === 'operator' || a === 'read-only') this.access = a;
        resolve(res);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.name === 'AbortError') return reject(e);
        reject(new UnreachableError(this.socket, e.code ?? e.message));
      });
      req.end(body);
    });
  }
}

async function readJson(res: http.IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const c of res) text += String(c);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ApiResponseError(res.statusCode ?? 500, 'bad-response', `the daemon answered HTTP ${res.statusCode} with non-JSON`, text);
  }
  const status = res.statusCode ?? 500;
  if (status >= 400) {
    const err = (v as { error?: { code?: string; message?: string } }).error;
    throw new ApiResponseError(status, err?.code ?? `http-${status}`, err?.message ?? `HTTP ${status}`, v);
  }
  return v;
}
