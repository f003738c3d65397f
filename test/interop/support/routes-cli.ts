/**
 * Run the real `routes` CLI (src/bin/routes.cjs) against a herald control
 * socket, as an operator would; `--json` output parsed. Shared by the LXD
 * end-to-end tests.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const ROUTES_BIN = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../src/bin/routes.cjs');

/** Run `routes --socket SOCKET ARGV...`; resolve with exit code and output. */
export function routesCli(socket: string, ...argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [ROUTES_BIN, '--socket', socket, ...argv], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** Run `routes ... --json`, expect exit 0, return the parsed output. */
export async function routesJson<T>(socket: string, ...argv: string[]): Promise<T> {
  const r = await routesCli(socket, ...argv, '--json');
  expect(r.code, `routes ${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}
