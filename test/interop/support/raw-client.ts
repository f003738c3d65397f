/**
 * A raw TCP client for feeding herald's listener hand-built (or random) bytes
 * from inside a network namespace:
 *
 *   ip netns exec NS node --import tsx test/interop/support/raw-client.ts < plan.json
 *
 * It deliberately knows nothing of herald's codecs: it writes the bytes the
 * plan gives it and cuts what it reads into messages by the RFC 4271 §4.1
 * header alone, so a test built on it checks herald against the RFC rather
 * than against herald's own decoder.
 *
 *   +--------------------- 16 ---------------------+--- 2 ---+- 1 -+
 *   |                   Marker                     | Length  |Type |
 *   +----------------------------------------------+---------+-----+
 *   NOTIFICATION body (RFC 4271 §4.5): Error code (1) | Error subcode (1) | Data
 *
 * Two modes, chosen by the plan read from stdin (one JSON object):
 *
 *   script  { mode: 'script', host, port, localAddress?, steps, waitCloseMs? }
 *           runs the steps over one connection, then waits up to waitCloseMs
 *           for the server to close; prints one ScriptResult line.
 *   random  { mode: 'random', host, port, connections: [{ localAddress, hex }],
 *             concurrency?, replyMs? }
 *           per connection: send the bytes, wait replyMs for a NOTIFICATION or
 *           a close; if neither came, half-close (FIN) and wait again; prints
 *           one RandomResult line.
 */
import * as net from 'node:net';

export type Step =
  /** Write these bytes (hex). */
  | { send: string }
  /** Wait until a message of this type arrives (1 OPEN … 5 ROUTE-REFRESH). */
  | { expect: number; timeoutMs?: number }
  | { sleep: number };

export interface ScriptPlan {
  mode: 'script';
  host: string;
  port: number;
  localAddress?: string;
  steps: Step[];
  waitCloseMs?: number;
}

export interface RandomPlan {
  mode: 'random';
  host: string;
  port: number;
  connections: { localAddress: string; hex: string }[];
  concurrency?: number;
  replyMs?: number;
}

export interface Received {
  type: number;
  length: number;
  /** NOTIFICATION only. */
  code?: number;
  subcode?: number;
  data?: string;
}

export interface ScriptResult {
  connected: boolean;
  connectError?: string;
  received: Received[];
  /** Bytes read in total (including any not forming a whole message). */
  bytes: number;
  /** The server closed the connection. */
  eof: boolean;
  /** The step that did not complete, with why. */
  failed?: { step: number; reason: string };
}

export type RandomOutcome = 'notification' | 'closed' | 'closed-after-fin' | 'timeout' | 'connect-error';

export interface RandomResult {
  outcomes: { outcome: RandomOutcome; code?: number; subcode?: number; bytes: number }[];
}

const HEADER = 19;

/** One connection: collects whole messages as they arrive and notes EOF. */
class Conn {
  readonly received: Received[] = [];
  bytes = 0;
  eof = false;
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;

  constructor(readonly sock: net.Socket) {
    sock.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.buf = Buffer.concat([this.buf, chunk]);
      this.cut();
      this.poke();
    });
    const end = (): void => {
      this.eof = true;
      this.poke();
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', () => {});
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private cut(): void {
    while (this.buf.length >= HEADER) {
      const length = this.buf.readUInt16BE(16);
      if (length < HEADER) {
        // Not a BGP stream any more; keep the count, stop cutting.
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.buf.length < length) return;
      const m = this.buf.subarray(0, length);
      const r: Received = { type: m[18]!, length };
      if (r.type === 3 && length >= HEADER + 2) {
        r.code = m[19]!;
        r.subcode = m[20]!;
        r.data = m.subarray(21).toString('hex');
      }
      this.received.push(r);
      this.buf = this.buf.subarray(length);
    }
  }

  /** Resolve once pred() holds, or false after ms. */
  async until(pred: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return true;
  }
}

function connect(host: string, port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, ...(localAddress !== undefined ? { localAddress } : {}) });
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error('connect timeout'));
    }, 5_000);
    sock.once('connect', () => {
      clearTimeout(t);
      sock.setNoDelay(true);
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

async function runScript(p: ScriptPlan): Promise<ScriptResult> {
  let sock: net.Socket;
  try {
    sock = await connect(p.host, p.port, p.localAddress);
  } catch (e) {
    return { connected: false, connectError: (e as Error).message, received: [], bytes: 0, eof: false };
  }
  const c = new Conn(sock);
  let failed: ScriptResult['failed'];
  let seen = 0;
  for (let i = 0; i < p.steps.length && failed === undefined; i++) {
    const s = p.steps[i]!;
    if ('send' in s) {
      if (c.eof) failed = { step: i, reason: 'closed before send' };
      else sock.write(Buffer.from(s.send, 'hex'));
    } else if ('expect' in s) {
      const found = (): boolean => c.received.slice(seen).some((m) => m.type === s.expect);
      const ok = await c.until(() => found() || c.eof, s.timeoutMs ?? 5_000);
      if (found()) seen = c.received.findIndex((m, k) => k >= seen && m.type === s.expect) + 1;
      else failed = { step: i, reason: ok ? `closed before a type ${s.expect} message` : `no type ${s.expect} message in time` };
    } else {
      await new Promise((r) => setTimeout(r, s.sleep));
    }
  }
  await c.until(() => c.eof, p.waitCloseMs ?? 3_000);
  sock.destroy();
  return { connected: true, received: c.received, bytes: c.bytes, eof: c.eof, ...(failed ? { failed } : {}) };
}

async function runRandom(p: RandomPlan): Promise<RandomResult> {
  const replyMs = p.replyMs ?? 1_500;
  const outcomes: RandomResult['outcomes'] = new Array(p.connections.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= p.connections.length) return;
      const spec = p.connections[i]!;
      let sock: net.Socket;
      try {
        sock = await connect(p.host, p.port, spec.localAddress);
      } catch {
        outcomes[i] = { outcome: 'connect-error', bytes: 0 };
        continue;
      }
      const c = new Conn(sock);
      sock.write(Buffer.from(spec.hex, 'hex'));
      const notified = (): Received | undefined => c.received.find((m) => m.type === 3);
      await c.until(() => notified() !== undefined || c.eof, replyMs);
      let outcome: RandomOutcome;
      if (notified()) outcome = 'notification';
      else if (c.eof) outcome = 'closed';
      else {
        sock.end();
        await c.until(() => notified() !== undefined || c.eof, replyMs);
        outcome = notified() ? 'notification' : c.eof ? 'closed-after-fin' : 'timeout';
      }
      // Let a NOTIFICATION's close arrive so the server side finishes too.
      await c.until(() => c.eof, 500);
      sock.destroy();
      const n = notified();
      outcomes[i] = { outcome, bytes: c.bytes, ...(n ? { code: n.code!, subcode: n.subcode! } : {}) };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, p.concurrency ?? 10) }, worker));
  return { outcomes };
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const plan = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ScriptPlan | RandomPlan;
  const out = plan.mode === 'random' ? await runRandom(plan) : await runScript(plan);
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`raw-client: ${e.stack ?? e.message}\n`);
    process.exit(2);
  },
);
