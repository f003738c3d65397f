// Start a `herald run` process for the packaging tests and wait for its
// "herald started" line: the installed package (pack.test.ts) and the built
// dist/ with a load recorder (dist.test.ts) start the daemon the same way.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as net from 'node:net';

/** A TCP port free on 127.0.0.1 when asked. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Spawn `command args` and resolve once its output says "herald started"; reject, with its output, if it exits first. */
export async function startHerald(command: string, args: string[], opts: SpawnOptions = {}): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += String(d)));
  child.stderr!.on('data', (d: Buffer) => (out += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (out.includes('herald started')) {
        clearInterval(t);
        resolve();
      } else if (child.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`${command} exited before "herald started":\n${out}`));
      }
    }, 20);
  });
  return { child, exited };
}
