// `--help` and `--version` on both commands, and herald's own usage errors
// (issue 10 item 2): usage on stdout with exit 0 when asked for, on stderr
// with exit 64 (EX_USAGE) after a mistake, and never Node's parseArgs
// wording ("To specify a positional argument …"). The real bins are run
// once each (herald through tsx, routes from the esbuild bundle, whose
// version is compiled in); the other cases call main() and runCli() here.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main.js';
import { runCli } from '../../../src/cli/index.js';

const root = path.resolve(__dirname, '../../..');
const { version, bin: bins } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function spawnBin(bin: 'herald' | 'routes', ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, bins[bin]!), ...args], { cwd: root }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Run herald's main() here, capturing what it writes. */
async function herald(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
  const code = await main(args);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

async function routes(...args: string[]): Promise<Run> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += String(c)));
  err.on('data', (c) => (stderr += String(c)));
  const code = await runCli(args, { stdout: out, stderr: err, env: { HERALD_SOCKET: '/nonexistent/herald.sock' } });
  await new Promise((r) => setImmediate(r));
  return { code, stdout, stderr };
}

const first = (r: Run): string => r.stderr.split('\n')[0]!;

afterEach(() => vi.restoreAllMocks());

describe('the real bins', () => {
  it('herald --version and routes --version (the bundle) print the package version and exit 0', async () => {
    const [h, r] = await Promise.all([spawnBin('herald', '--version'), spawnBin('routes', '--version')]);
    expect(h).toEqual({ code: 0, stdout: `herald ${version}\n`, stderr: '' });
    expect(r).toEqual({ code: 0, stdout: `routes (herald) ${version}\n`, stderr: '' });
  });
});

describe('herald', () => {
  it('--help, -h, help and `check --help` print the usage on stdout and exit 0', async () => {
    for (const args of [['--help'], ['-h'], ['help'], ['check', '--help']]) {
      const r = await herald(...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^usage: herald run +\[--config FILE\]/);
      expect(r.stdout).toContain('-V, --version');
      expect(r.stderr).toBe('');
    }
  });

  it('-V and version print "herald VERSION"', async () => {
    for (const args of [['-V'], ['version']]) expect(await herald(...args)).toEqual({ code: 0, stdout: `herald ${version}\n`, stderr: '' });
  });

  it('usage errors exit 64 with herald’s own message and the usage on stderr', async () => {
    const cases: [string[], string][] = [
      [[], 'herald: no command given'],
      [['start'], "herald: unknown command 'start'"],
      [['run', '--verbose'], "herald: unknown option '--verbose'"],
      [['check', '--config'], 'herald: option --config needs a value'],
      [['check', '--json=yes'], 'herald: option --json takes no value'],
      [['check', 'x.yaml'], "herald: unexpected argument 'x.yaml'"],
      [['run', '--strict'], 'herald: --strict is an option of herald check'],
    ];
    for (const [args, message] of cases) {
      const r = await herald(...args);
      expect([r.code, first(r), r.stdout], args.join(' ')).toEqual([64, message, '']);
      expect(r.stderr).toContain('usage: herald run');
      expect(r.stderr).not.toMatch(/positional|To specify/);
    }
  });
});

describe('routes', () => {
  it('--help and -V without a daemon', async () => {
    const help = await routes('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: routes \[COMMAND\]/);
    expect(help.stdout).toContain('-V, --version');
    expect(await routes('-V')).toEqual({ code: 0, stdout: `routes (herald) ${version}\n`, stderr: '' });
  });

  it('usage errors exit 64 with routes’ own message', async () => {
    const rs = await Promise.all([routes('--verbose'), routes('peers', '--socket'), routes('--json=yes')]);
    expect(rs.map((r) => [r.code, first(r)])).toEqual([
      [64, "routes: unknown option '--verbose'"],
      [64, 'routes: option --socket needs a value'],
      [64, 'routes: option --json takes no value'],
    ]);
    expect(rs[0]!.stderr).not.toMatch(/positional|To specify/);
  });
});
