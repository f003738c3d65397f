// dist/, the built herald (decision 0027): the stale check fails when a
// source in src/ or bgp/ changed after the build and passes on a fresh one;
// a stack trace from the bundle names the .ts file; and a daemon whose
// config has no metrics, lxd or dns check never loads those chunks (nor
// ws, prom-client), while one whose config has them does.
// No RFC: packaging.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startHerald } from './support/run-herald.js';
import { testNetns } from '../support/netns-enter.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BUILD = join(root, 'src/bin/build.mjs');
const RECORD = join(root, 'test/packaging/support/record-loads.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'herald-dist-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Table = Record<string, string>;
const { ENTRIES, THREADS, PROGRAMS, LOADED } = (await import(pathToFileURL(BUILD).href)) as { ENTRIES: Table; THREADS: Table; PROGRAMS: Table; LOADED: Table };
/** Every file the build names after its source: ESM entries (.mjs), CommonJS threads, programs and loaded code (.cjs). */
const NAMED = Object.keys(ENTRIES).map((n) => `${n}.mjs`).concat([...Object.keys(THREADS), ...Object.keys(PROGRAMS), ...Object.keys(LOADED)].map((n) => `${n}.cjs`));

/** A copy of the tree's build inputs and its dist/, with node_modules linked. */
function copyTree(name: string): string {
  const t = join(tmp, name);
  for (const p of ['src', 'bgp', 'dist', 'package.json', 'tsconfig.json']) cpSync(join(root, p), join(t, p), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(t, 'node_modules'));
  return t;
}

function check(tree: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BUILD, '--check', `--root=${tree}`], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  expect(text).toContain(from);
  writeFileSync(file, text.replace(from, to));
}

describe('dist/ against the sources', () => {
  it('has every entry and is fresh after the build', () => {
    expect(NAMED).toContain('routes.cjs');
    expect(NAMED).toContain('config-parser.cjs');
    for (const name of NAMED) {
      expect(existsSync(join(root, 'dist', name)), `dist/${name}`).toBe(true);
      expect(existsSync(join(root, 'dist', `${name}.map`)), `dist/${name}.map`).toBe(true);
    }
    const r = check(root);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('is stale after a change in src/, in bgp/, or with a chunk missing', () => {
    const a = copyTree('src-change');
    edit(join(a, 'src/main.ts'), 'usage: herald run ', 'usage: herald  run ');
    const ra = check(a);
    expect(ra.status).toBe(1);
    expect(ra.stderr).toMatch(/dist\/herald\.mjs differs from what the sources build to/);

    const b = copyTree('bgp-change');
    edit(join(b, 'bgp/driver/speaker.ts'), "'listening for BGP connections'", "'listening for BGP connections now'");
    const rb = check(b);
    expect(rb.status).toBe(1);
    // The Speaker is in the engine thread's bundle only (decision 0039).
    expect(rb.stderr).toMatch(/dist\/engine-worker\.cjs differs from what the sources build to/);

    const c = copyTree('chunk-gone');
    const chunk = readdirSync(join(c, 'dist')).find((f) => /^chunk-\w+\.mjs$/.test(f))!;
    unlinkSync(join(c, 'dist', chunk));
    const rc = check(c);
    expect(rc.status).toBe(1);
    expect(rc.stderr).toContain(`dist/${chunk} is missing`);
  });
});

describe('what each thread loads', () => {
  // The session engine's code (Speaker, peers, FSM, BFD sessions) runs only in
  // the engine thread: no main-thread file carries it (decision 0039).
  const ENGINE_ONLY = /bgp\/(driver\/(speaker|peer|bfd-link|engine-worker)|session\/fsm)\.ts$/;
  const sourcesOf = (file: string): string[] => (JSON.parse(readFileSync(join(root, 'dist', `${file}.map`), 'utf8')) as { sources: string[] }).sources;

  it('keeps the engine code out of every main-thread file, and in the engine bundle', () => {
    const threads = new Set(Object.keys(THREADS).map((n) => `${n}.cjs`));
    const main = readdirSync(join(root, 'dist')).filter((f) => /\.[mc]js$/.test(f) && !threads.has(f));
    expect(main).toContain('routes.cjs');
    expect(main.length).toBeGreaterThan(2);
    for (const f of main) expect(sourcesOf(f).filter((s) => ENGINE_ONLY.test(s)), f).toEqual([]);
    expect(sourcesOf('engine-worker.cjs').filter((s) => ENGINE_ONLY.test(s)).length).toBe(5);
  });
});

describe('the bundle at run time', () => {
  it('names the TypeScript file and line in a stack trace', () => {
    const script = `const m = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/routes.cjs')).href)});
try { await m.runCli(['--help'], { stdout: null, stderr: null, env: {} }); } catch (e) { console.log(e.stack); }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    console.log(`stack from dist/routes.cjs:\n${out}`);
    expect(out).toMatch(/at .*runCli \(.*src\/cli\/index\.ts:\d+:\d+\)/);
    expect(out).not.toMatch(/dist\/routes\.cjs:\d+/);
  });

  it('reads a config through dist/config-parser.cjs with this thread\'s Secret and ConfigError, and the bundle is collected after the read', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'test/packaging/support/parser-drop-child.ts'), join(root, 'dist/config-parser.cjs')], { encoding: 'utf8' });
    console.log(`config parser bundle: ${out}`);
    const r = JSON.parse(out) as Record<string, unknown>;
    expect(r).toMatchObject({ secretIsOurs: true, errorIsOurs: true, line: 4 });
    // The control: zod's global (globalThis.__zod_globalConfig) holds the bundle when it stays.
    expect(r).toMatchObject({ zodGlobalWithout: true, keptCollected: false });
    // As src/config/load.ts reads: the global removed, nothing of the parser is left.
    expect(r).toMatchObject({ zodGlobalWith: false, droppedCollected: true });
  });
});

// herald runs in a namespace of this file's own: a routing daemon never runs in the host's.
const netns = testNetns({ file: 'test/packaging/dist.test.ts', tag: 'dist', scope: 'the daemon runs in' });

describe.skipIf(!netns.canRun)('the daemon at run time (network namespace)', () => {
  beforeAll(() => netns.setUp(['192.0.2.11/32']));
  afterAll(() => netns.cleanUp());

  /** Run `herald run` until "herald started", stop it, and return the sources of every dist file it loaded. */
  async function loadedSources(name: string, extra: (ports: number[]) => string): Promise<Set<string>> {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const dir = join(tmp, name);
    cpSync(join(root, 'package.json'), join(dir, 'package.json'));
    const config = join(dir, 'herald.yaml');
    writeFileSync(
      config,
      `router_id: 192.0.2.11
asn: 65011
listen: { address: 127.0.0.1, port: ${ports[0]} }
api: { socket: ${join(dir, 'herald.sock')} }
peers:
  - { name: up, address: 127.0.0.1, port: ${ports[1]}, asn: 65000, passive: true }
drain: { period: 0s }
${extra(ports)}`,
    );
    const log = join(dir, 'loads.txt');
    const { child, exited } = await startHerald(process.execPath, ['--import', pathToFileURL(RECORD).href, join(root, 'src/bin/herald.mjs'), 'run', '--config', config], {
      env: { ...process.env, HERALD_LOAD_LOG: log },
    });
    // A moment for the first health round (the dns check's chunk loads on its first probe).
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const sources = new Set<string>();
    for (const url of readFileSync(log, 'utf8').split('\n').filter((u) => u.includes('/dist/'))) {
      const map = JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')) as { sources: string[] };
      for (const s of map.sources) sources.add(s.replace(/^(\.\.\/)+/, ''));
    }
    return sources;
  }

  // The config parser is compiled from dist/config-parser.cjs for each read and dropped (decision 0050): never a module the daemon imports.
  const PARSER = [/node_modules\/(yaml|zod)\//, /src\/config\/(parse|schema|locator)\.ts/];
  const LAZY = [/src\/sources\/lxd\/(client|source|events|config|http1|listing)\.ts/, /src\/metrics\.ts/, /checks\/dns\.ts/, /node_modules\/ws\//, /node_modules\/prom-client\//];

  it('loads metrics, the LXD client and the DNS check only when the config uses them', async () => {
    const plain = await loadedSources('plain', (p) => `services:\n  - { name: web, prefixes: [198.51.100.80/32], checks: [{ tcp: { address: 127.0.0.1, port: ${p[2]} } }], interval: 1s }\n`);
    expect([...plain].some((s) => s.includes('src/daemon.ts'))).toBe(true);
    for (const re of [...LAZY, ...PARSER]) expect([...plain].filter((s) => re.test(s)), String(re)).toEqual([]);

    const full = await loadedSources(
      'full',
      (p) => `metrics: { address: 127.0.0.1, port: ${p[2]}, path: /metrics }
lxd: { socket: ${join(tmp, 'no-lxd.sock')} }
services:
  - { name: dns, prefixes: [198.51.100.53/32], checks: [{ dns: { server: 127.0.0.1, port: ${p[1]}, query: example.org, type: SOA } }], interval: 1s }
`,
    );
    for (const re of LAZY) expect([...full].filter((s) => re.test(s)).length, String(re)).toBeGreaterThan(0);
    for (const re of PARSER) expect([...full].filter((s) => re.test(s)), String(re)).toEqual([]);
  }, 60_000);
});
