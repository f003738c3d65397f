/**
 * The OVSDB management protocol, as much as herald needs to follow OVN's
 * southbound database: RFC 7047 (JSON-RPC 1.0 over a stream socket). Pure:
 * no sockets, no timers; `ovn-sb.ts` drives it.
 *
 * Owns:
 *   - `parseOvsdbRemote`: the connection methods of ovn-controller's
 *     `ovn-remote` / ovsdb-client (`unix:PATH`, `tcp:HOST:PORT`, a comma
 *     separated list for a clustered database);
 *   - `JsonStreamFramer`: cuts the byte stream into JSON texts. RFC 7047 §4
 *     sends JSON-RPC messages back to back with no length or delimiter, so
 *     the framer tracks nesting outside strings; a message larger than its
 *     bound is an error (the caller drops the connection), never unbounded
 *     buffering;
 *   - the messages herald sends (`monitor`, an `echo` reply, its own `echo`)
 *     and the classification of what it receives;
 *   - datum decoding for the column types it monitors (RFC 7047 §5.1:
 *     atoms, `["uuid", ...]`, `["set", [...]]`).
 */

/** One OVSDB server address. */
export type OvsdbEndpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Describe an endpoint as its connection method text (`unix:/run/ovn/ovnsb_db.sock`, `tcp:[2001:db8::1]:6642`). */
export function describeOvsdbEndpoint(e: OvsdbEndpoint): string {
  return e.kind === 'unix' ? `unix:${e.path}` : `tcp:${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/**
 * Parse OVSDB connection methods: `unix:PATH` (absolute), `tcp:HOST:PORT`
 * (IPv6 in brackets), several separated by commas (the members of a
 * clustered database: tried in turn). Return the endpoints, or an error text.
 * `ssl:` is refused by name: herald does not speak TLS to OVSDB yet.
 */
export function parseOvsdbRemote(text: string): OvsdbEndpoint[] | string {
  const parts = text.split(',').map((s) => s.trim());
  const out: OvsdbEndpoint[] = [];
  for (const p of parts) {
    if (p.startsWith('unix:')) {
      const path = p.slice(5);
      if (!path.startsWith('/')) return `${JSON.stringify(p)}: a unix: socket path must be absolute`;
      out.push({ kind: 'unix', path });
    } else if (p.startsWith('tcp:')) {
      const m = /^tcp:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(p);
      const port = m ? Number(m[3]) : 0;
      if (!m || port < 1 || port > 65535) return `${JSON.stringify(p)}: expected tcp:HOST:PORT (IPv6 as tcp:[ADDRESS]:PORT)`;
      out.push({ kind: 'tcp', host: m[1] ?? m[2]!, port });
    } else if (p.startsWith('ssl:')) {
      return `${JSON.stringify(p)}: ssl: is not supported (herald speaks OVSDB over unix: or tcp: only)`;
    } else {
      return `${JSON.stringify(p)}: expected unix:PATH or tcp:HOST:PORT`;
    }
  }
  return out;
}

/** Default bound on one received JSON-RPC message (a monitor reply for a large southbound database). */
export const OVSDB_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** The stream broke the framing: too large, or bytes that cannot start a JSON object. */
export class OvsdbFramingError extends Error {}

const BRACE_OPEN = 0x7b;
const BRACE_CLOSE = 0x7d;
const BRACKET_OPEN = 0x5b;
const BRACKET_CLOSE = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Cut a byte stream into complete JSON texts (each a JSON-RPC message).
 * Chunks may split a message anywhere, also inside a string or a UTF-8
 * sequence; whitespace between messages is skipped.
 */
export class JsonStreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Scan state of the message in progress, kept across chunks. */
  private pos = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;

  constructor(private readonly maxBytes = OVSDB_MAX_MESSAGE_BYTES) {}

  /** Add a chunk and return every JSON text it completed (as strings); throw OvsdbFramingError on broken framing. */
  push(chunk: Buffer): string[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: string[] = [];
    let start = 0;
    const b = this.buf;
    for (let i = this.pos; i < b.length; i++) {
      const c = b[i]!;
      if (!this.started) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          start = i + 1;
          continue;
        }
        if (c !== BRACE_OPEN) throw new OvsdbFramingError(`expected a JSON object, got byte 0x${c.toString(16).padStart(2, '0')}`);
        this.started = true;
        start = i;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      if (c === QUOTE) this.inString = true;
      else if (c === BRACE_OPEN || c === BRACKET_OPEN) this.depth++;
      else if (c === BRACE_CLOSE || c === BRACKET_CLOSE) {
        this.depth--;
        if (this.depth === 0) {
          out.push(b.toString('utf8', start, i + 1));
          this.started = false;
          start = i + 1;
        }
      }
    }
    this.buf = start >= b.length ? Buffer.alloc(0) : b.subarray(start);
    this.pos = this.buf.length;
    if (this.buf.length > this.maxBytes) throw new OvsdbFramingError(`a message is larger than ${this.maxBytes} bytes`);
    return out;
  }

  /** Bytes held for a message not yet complete. */
  get pending(): number {
    return this.buf.length;
  }
}

/** RFC 7047 §5.1 <monitor-request> per table: the columns to follow. */
export type MonitorRequests = Record<string, { columns: readonly string[] }>;

/** RFC 7047 §4.1.5: start monitoring `db`; updates come as `update` notifications carrying `monitorId`. */
export function monitorRequest(id: number, db: string, monitorId: string, tables: MonitorRequests): string {
  return JSON.stringify({ method: 'monitor', params: [db, monitorId, tables], id });
}

/** RFC 7047 §4.1.11: "The response to an echo request has the same params as the request" — as `result`. */
export function echoReply(id: unknown, params: unknown): string {
  return JSON.stringify({ result: params, error: null, id });
}

/** An echo request of our own (liveness probe). */
export function echoRequest(id: number): string {
  return JSON.stringify({ method: 'echo', params: [], id });
}

/** One received message, classified. */
export type OvsdbMessage =
  | { kind: 'response'; id: unknown; result: unknown; error: unknown }
  | { kind: 'request'; id: unknown; method: string; params: unknown }
  | { kind: 'notification'; method: string; params: unknown };

/** Parse and classify one JSON text; throw OvsdbFramingError when it is no JSON-RPC 1.0 message. */
export function parseOvsdbMessage(text: string): OvsdbMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new OvsdbFramingError(`not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new OvsdbFramingError('a JSON-RPC message must be an object');
  const m = v as Record<string, unknown>;
  if (typeof m['method'] === 'string') {
    // RFC 7047 §4: a notification is a request whose id is null.
    if (m['id'] === null || m['id'] === undefined) return { kind: 'notification', method: m['method'], params: m['params'] };
    return { kind: 'request', id: m['id'], method: m['method'], params: m['params'] };
  }
  if ('result' in m || 'error' in m) return { kind: 'response', id: m['id'], result: m['result'], error: m['error'] ?? null };
  throw new OvsdbFramingError('a JSON-RPC message needs a method, or a result or error');
}

/** RFC 7047 §4.1.6 <row-update>: `old` and/or `new` row (column → datum). */
export interface RowUpdate {
  old?: Record<string, unknown>;
  new?: Record<string, unknown>;
}

/** RFC 7047 §4.1.6 <table-updates>: table → row uuid → row update. */
export type TableUpdates = Record<string, Record<string, RowUpdate>>;

/** Check the shape of <table-updates>; return it or an error text. */
export function asTableUpdates(v: unknown): TableUpdates | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'table-updates must be an object';
  for (const [table, rows] of Object.entries(v as Record<string, unknown>)) {
    if (typeof rows !== 'object' || rows === null || Array.isArray(rows)) return `table-updates.${table} must be an object`;
    for (const [uuid, ru] of Object.entries(rows as Record<string, unknown>)) {
      if (typeof ru !== 'object' || ru === null || Array.isArray(ru)) return `table-updates.${table}.${uuid} must be an object`;
    }
  }
  return v as TableUpdates;
}

/** Decode a string column (RFC 7047 §5.1 atom); undefined when it is not a string. */
export function datumString(d: unknown): string | undefined {
  return typeof d === 'string' ? d : undefined;
}

/** Decode a set of strings (`"s"` or `["set", ["s", ...]]`); undefined when it is not one. */
export function datumStringSet(d: unknown): string[] | undefined {
  if (typeof d === 'string') return [d];
  if (Array.isArray(d) && d.length === 2 && d[0] === 'set' && Array.isArray(d[1]) && d[1].every((x) => typeof x === 'string')) return d[1] as string[];
  return undefined;
}

/**
 * Decode a column of uuid references with at most one element (e.g.
 * Port_Binding.chassis): `["uuid", U]`, `["set", []]` or `["set", [["uuid", U]]]`.
 * Return the uuid, null for the empty set, undefined for anything else.
 */
export function datumOptionalUuid(d: unknown): string | null | undefined {
  if (!Array.isArray(d) || d.length !== 2) return undefined;
  if (d[0] === 'uuid' && typeof d[1] === 'string') return d[1];
  if (d[0] === 'set' && Array.isArray(d[1])) {
    if (d[1].length === 0) return null;
    if (d[1].length === 1) return datumOptionalUuid(d[1][0]) ?? undefined;
  }
  return undefined;
}
