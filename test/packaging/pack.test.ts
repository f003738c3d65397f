// The npm package (decision 0027): `npm pack` ships dist/, the bins, the
// schema, the example configs, README and LICENSE and no tests or TypeScript;
// `npm install -g --prefix P ./herald-*.tgz` installs koffi as its only
// dependency (no dev dependency), and the installed `herald` checks the
// shipped example, starts, and `routes --help` answers.
// Needs the npm registry for koffi (npm's cache is tried first).
// No RFC: packaging.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHerald } from './support/run-herald.js';
import { testNetns } from '../support/netns-enter.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'herald-pack-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (cmd: string, args: string[], opts: { cwd?: string } = {}): string =>
  execFileSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? root, env: { ...process.env, npm_config_update_notifier: 'false' } });

/** What the package test installed, for the start test below. */
let installed: { herald: string; routes: string } | null = null;

describe('npm package', () => {
  it('packs the built daemon without tests, installs globally with no dev dependency; the installed herald checks the example and routes answers --help', async () => {
    const t0 = Date.now();
    // dist/ was built by vitest's global setup; --ignore-scripts so this test
    // never rewrites dist/ under other tests. The stale check is prepack's job.
    const [packed] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp])) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((f) => f.path);
    for (const want of ['dist/herald.mjs', 'dist/routes.cjs', 'src/bin/herald.mjs', 'src/bin/routes.cjs', 'docs/herald.schema.json', 'docs/examples/herald.yaml', 'docs/systemd/herald.service', 'README.md', 'LICENSE', 'package.json']) {
      expect(files, want).toContain(want);
    }
    expect(files.filter((f) => /(^|\/)test\/|\.test\.|\.ts$|^bgp\//.test(f))).toEqual([]);
    expect(files.filter((f) => /^dist\/\w+-\w{8}\.mjs$/.test(f)).length).toBeGreaterThan(0);

    const prefix = join(tmp, 'prefix');
    run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(tmp, packed!.filename)]);
    const pkgDir = join(prefix, 'lib/node_modules/herald');
    // Only koffi (and its platform build) came along: everything else is bundled in dist/.
    const deps = readdirSync(join(pkgDir, 'node_modules')).flatMap((d) => (d.startsWith('@') ? readdirSync(join(pkgDir, 'node_modules', d)).map((s) => `${d}/${s}`) : [d]));
    expect(deps.filter((d) => !d.startsWith('.')).every((d) => d === 'koffi' || d.startsWith('@koromix/koffi-'))).toBe(true);
    expect(deps).toContain('koffi');

    const herald = join(prefix, 'bin/herald');
    const routes = join(prefix, 'bin/routes');
    expect(run(herald, ['check', '--config', join(pkgDir, 'docs/examples/herald.yaml')])).toContain('router_id: 192.0.2.11');
    expect(run(routes, ['--help'])).toContain('usage: routes');
    installed = { herald, routes };
    console.log(`npm pack + install -g: ${((Date.now() - t0) / 1000).toFixed(1)} s; ${files.length} files packed`);
  }, 240_000);
});

// The installed daemon runs in a namespace of this file's own: a routing daemon never runs in the host's.
const netns = testNetns({ file: 'test/packaging/pack.test.ts', tag: 'pack', scope: 'the installed daemon\'s start in' });

describe.skipIf(!netns.canRun)('the installed daemon (network namespace)', () => {
  beforeAll(() => netns.setUp(['192.0.2.11/32']));
  afterAll(() => netns.cleanUp());

  it('starts, and the installed routes reads it (the peer is passive)', async () => {
    if (!installed) throw new Error('the package test above did not install herald');
    const config = join(tmp, 'herald.yaml');
    writeFileSync(
      config,
      `router_id: 192.0.2.11\nasn: 65011\nlisten: { address: 192.0.2.11, port: 179 }\napi: { socket: ${join(tmp, 'herald.sock')} }\npeers:\n  - { name: up, address: 192.0.2.12, asn: 65000, passive: true }\ndrain: { period: 0s }\n`,
    );
    const { child, exited } = await startHerald(installed.herald, ['run', '--config', config]);
    expect(run(installed.routes, ['peers', '--socket', join(tmp, 'herald.sock')])).toContain('up');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
