/**
 * The benchmark's receiver: one BIRD 2 in its own namespace that imports
 * everything and installs nothing (no `protocol kernel`), with one passive
 * session for IPv4 unicast and one for IPv6 unicast per sender (OpenBGPD
 * cannot carry IPv6 NLRI over an IPv4 session with a usable next hop, so
 * every sender gets the same two-session layout).
 *
 * Counting goes through BIRD's control socket directly (a persistent
 * connection, no birdc process per poll): `show protocols all NAME` gives the
 * BGP state and "Routes: N imported" per channel. LAB.md measured this BIRD
 * absorbing 1M routes in ~0.7 s, the floor for any sender.
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import * as net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor, type Lab, type LabProcess } from '../interop/lab/index.js';

/** Wall-clock milliseconds with sub-ms precision, comparable across processes. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

export interface ReceiverSession {
  /** BIRD protocol name. */
  name: string;
  /** The sender's address for this session. */
  neighbor: string;
  /** Our address on the link. */
  local: string;
  family: 'ipv4' | 'ipv6';
}

/** BFD on every session of the receiver (`protocol bfd` + `bfd on`), in ms. */
export interface ReceiverBfd {
  intervalMs: number;
  multiplier: number;
}

/** One line of `show bfd sessions`. */
export interface ReceiverBfdSession {
  address: string;
  state: string;
  /** The `Since` column as BIRD prints it (changes when the session changes state). */
  since: string;
}

export interface ReceiverCounts {
  at: number;
  /** Every session Established. */
  established: boolean;
  /** The IPv4 / IPv6 session Established. */
  est4: boolean;
  est6: boolean;
  v4: number;
  v6: number;
}

/** A tiny client for BIRD's control socket: one command at a time, reply read to its final line. */
export class BirdControl {
  private sock: net.Socket | null = null;
  private buf = '';
  private waiter: ((text: string) => void) | null = null;
  private failer: ((e: Error) => void) | null = null;

  constructor(private readonly path: string) {}

  async open(): Promise<void> {
    const sock = net.connect(this.path);
    sock.setEncoding('utf8');
    this.sock = sock;
    sock.on('data', (d: string) => this.onData(d));
    sock.on('error', (e) => this.failer?.(e));
    sock.on('close', () => this.failer?.(new Error('BIRD control socket closed')));
    await this.reply(); // "0001 BIRD 2.0.12 ready."
  }

  private onData(d: string): void {
    this.buf += d;
    // A reply ends with a line whose 4-digit code is followed by a space.
    const m = /(^|\n)\d{4} [^\n]*\n/.exec(this.buf);
    if (m === null || this.waiter === null) return;
    const end = m.index + m[0].length;
    const text = this.buf.slice(0, end);
    this.buf = this.buf.slice(end);
    const w = this.waiter;
    this.waiter = null;
    this.failer = null;
    w(text);
  }

  private reply(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failer = reject;
      this.onData('');
    });
  }

  /** Run one command and return its reply with the reply codes stripped. */
  async cmd(line: string): Promise<string> {
    if (!this.sock) throw new Error('BIRD control socket not open');
    const p = this.reply();
    this.sock.write(line + '\n');
    const raw = await p;
    return raw
      .split('\n')
      .map((l) => l.replace(/^(\d{4}[- ]| )/, ''))
      .join('\n');
  }

  close(): void {
    this.sock?.destroy();
    this.sock = null;
  }
}

export class BirdReceiver {
  readonly dir: string;
  private proc: LabProcess | null = null;
  private ctl: BirdControl | null = null;

  constructor(
    private readonly lab: Lab,
    readonly ns: string,
    dir: string,
    readonly asn: number,
    readonly peerAsn: number,
    readonly sessions: ReceiverSession[],
    /** BFD on every session (the interop BFD-under-load test); none by default. */
    readonly bfd: ReceiverBfd | null = null,
  ) {
    this.dir = dir;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Write bird.conf, start BIRD in the foreground, open the control socket. */
  async start(): Promise<void> {
    const v4 = this.sessions.find((s) => s.family === 'ipv4')?.local ?? '192.0.2.254';
    const lines = [`log "${join(this.dir, 'bird.log')}" { info, remote, warning, error, auth, fatal, bug };`, `router id ${v4};`, 'protocol device {}'];
    const b = this.bfd;
    if (b) lines.push(`protocol bfd { interface "*" { min rx interval ${b.intervalMs} ms; min tx interval ${b.intervalMs} ms; multiplier ${b.multiplier}; }; }`);
    for (const s of this.sessions) {
      lines.push(
        `protocol bgp ${s.name} {`,
        `  local ${s.local} as ${this.asn};`,
        `  neighbor ${s.neighbor} as ${this.peerAsn};`,
        '  passive on;',
        ...(b ? ['  bfd on;'] : []),
        `  ${s.family} { import all; export none; };`,
        '}',
      );
    }
    const conf = join(this.dir, 'bird.conf');
    await writeFile(conf, lines.join('\n') + '\n');
    const sockPath = join(this.dir, 'bird.ctl');
    this.proc = this.lab.spawn(this.ns, 'bird-receiver', 'bird', ['-f', '-c', conf, '-s', sockPath, '-P', join(this.dir, 'bird.pid')], {
      logFile: join(this.dir, 'bird.out'),
    });
    this.ctl = await waitFor(
      async () => {
        const c = new BirdControl(sockPath);
        await c.open();
        return c;
      },
      10_000,
      () => 'BIRD receiver control socket did not answer',
      50,
    );
  }

  /** Read the session states and imported-route counts once. */
  async counts(): Promise<ReceiverCounts> {
    const ctl = this.ctl;
    if (!ctl) throw new Error('receiver not started');
    let est4 = true;
    let est6 = true;
    let v4 = 0;
    let v6 = 0;
    for (const s of this.sessions) {
      const text = await ctl.cmd(`show protocols all ${s.name}`);
      const up = /BGP state:\s+Established/.test(text);
      const m = /Routes:\s+(\d+) imported/.exec(text);
      const n = m ? Number(m[1]) : 0;
      if (s.family === 'ipv4') {
        v4 += n;
        est4 &&= up;
      } else {
        v6 += n;
        est6 &&= up;
      }
    }
    return { at: wallMs(), established: est4 && est6, est4, est6, v4, v6 };
  }

  /** `show bfd sessions`: one entry per BFD session. */
  async bfdSessions(): Promise<ReceiverBfdSession[]> {
    const ctl = this.ctl;
    if (!ctl) throw new Error('receiver not started');
    const text = await ctl.cmd('show bfd sessions');
    const out: ReceiverBfdSession[] = [];
    // IP address  Interface  State  Since  Interval  Timeout
    for (const line of text.split('\n')) {
      const m = /^\s*([0-9a-f.:]+)\s+(\S+)\s+(Up|Down|Init|AdminDown)\s+(\S+(?: \S+)?)\s+[\d.]+\s+[\d.]+\s*$/i.exec(line);
      if (m) out.push({ address: m[1]!, state: m[3]!, since: m[4]! });
    }
    return out;
  }

  /** The `since` text of each BGP session (`show protocols`), to tell whether a session restarted. */
  async bgpSince(): Promise<Record<string, string>> {
    const ctl = this.ctl;
    if (!ctl) throw new Error('receiver not started');
    const text = await ctl.cmd('show protocols');
    const out: Record<string, string> = {};
    for (const s of this.sessions) {
      // Name  Proto  Table  State  Since  Info: Since changes when the session restarts.
      const m = new RegExp(`^\\s*${s.name}\\s+BGP\\s+\\S+\\s+\\S+\\s+(.*)$`, 'm').exec(text);
      out[s.name] = m ? m[1]!.trim() : '?';
    }
    return out;
  }

  /**
   * Poll every `intervalMs` until `done(counts)` holds; return the first
   * sample that satisfies it, or null after `timeoutMs`.
   */
  async until(done: (c: ReceiverCounts) => boolean, timeoutMs: number, intervalMs = 10): Promise<ReceiverCounts | null> {
    const deadline = wallMs() + timeoutMs;
    for (;;) {
      const c = await this.counts();
      if (done(c)) return c;
      if (c.at > deadline) return null;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async stop(): Promise<void> {
    this.ctl?.close();
    this.ctl = null;
    await this.proc?.stop();
  }
}
