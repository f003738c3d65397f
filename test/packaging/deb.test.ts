// The Debian package and its systemd unit (decision 0027): `npm run
// package:deb`'s builder makes herald_<version>_<arch>.deb with the files,
// conffile and dependencies docs/operations.md promises; lintian finds no
// error in it; the tree it installs runs (`herald check` on the shipped
// /etc/herald/herald.yaml, `routes --help`, koffi loads); the unit passes
// `systemd-analyze verify` against this machine's targets and its
// `systemd-analyze security` exposure is at most 3.0.
// With CI set, a missing lintian or systemd-analyze fails (.ci/run installs
// lintian); elsewhere the check is skipped with a loud message.
// No RFC: packaging.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'herald-deb-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CI = !!process.env.CI;
const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** Skip loudly outside CI; fail in CI. */
function needTool(tool: string, pkg: string): boolean {
  if (has(tool)) return true;
  if (CI) throw new Error(`${tool} is missing (Debian package ${pkg}); CI must have it (.ci/run installs it)`);
  console.warn(`!!! SKIPPING the ${tool} check: ${tool} is not installed (apt-get install ${pkg}) !!!`);
  return false;
}

let deb = '';
let tree = '';

beforeAll(async () => {
  const { buildDeb } = (await import(pathToFileURL(join(root, 'packaging/deb/build.mjs')).href)) as {
    buildDeb: (out: string) => Promise<{ deb: string; files: number; installedKb: number }>;
  };
  const t0 = Date.now();
  const r = await buildDeb(join(tmp, 'out'));
  deb = r.deb;
  console.log(`built ${deb}: ${r.files} files, ${r.installedKb} KiB installed, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  tree = join(tmp, 'root');
  execFileSync('dpkg-deb', ['-x', deb, tree]);
}, 180_000);

const field = (name: string): string => execFileSync('dpkg-deb', ['--field', deb, name], { encoding: 'utf8' }).trim();

describe('Debian package', () => {
  it('is named and described as Debian expects', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
    expect(deb.endsWith(`/herald_${pkg.version}_${arch}.deb`)).toBe(true);
    expect(field('Package')).toBe('herald');
    expect(field('Version')).toBe(pkg.version);
    expect(field('Depends')).toMatch(/(^|, )nodejs \(>= 20\)(,|$)/);
    expect(field('Depends')).toMatch(/(^|, )adduser(,|$)/);
    const ctl = join(tmp, 'control');
    execFileSync('dpkg-deb', ['-e', deb, ctl]);
    expect(readFileSync(join(ctl, 'conffiles'), 'utf8')).toBe('/etc/herald/herald.yaml\n');
    for (const s of ['postinst', 'prerm', 'postrm']) expect(existsSync(join(ctl, s)), s).toBe(true);
    expect(readFileSync(join(ctl, 'postinst'), 'utf8')).toMatch(/adduser --quiet --system --group/);
  });

  it('installs the files operations.md names, and no tests or TypeScript', () => {
    for (const p of [
      'usr/bin/herald',
      'usr/bin/routes',
      'usr/lib/herald/dist/herald.mjs',
      'usr/lib/herald/dist/routes.cjs',
      'usr/lib/herald/src/bin/herald.mjs',
      'usr/lib/herald/node_modules/koffi/package.json',
      'etc/herald/herald.yaml',
      'usr/share/herald/herald.schema.json',
      'usr/share/herald/examples/herald.yaml',
      'usr/lib/systemd/system/herald.service',
      'usr/share/doc/herald/copyright',
      'usr/share/doc/herald/changelog.gz',
      'usr/share/man/man8/herald.8.gz',
      'usr/share/man/man8/routes.8.gz',
      'var/lib/herald',
    ]) {
      expect(existsSync(join(tree, p)), p).toBe(true);
    }
    const all = execFileSync('dpkg-deb', ['--contents', deb], { encoding: 'utf8' });
    expect(all).not.toMatch(/\.ts\n|\/test\//);
  });

  it('runs from the installed tree: herald check on the conffile, routes --help, koffi loads', () => {
    const lib = join(tree, 'usr/lib/herald');
    const check = spawnSync(process.execPath, [join(lib, 'src/bin/herald.mjs'), 'check', '--config', join(tree, 'etc/herald/herald.yaml')], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(check.stdout).toContain('router_id: 192.0.2.11');
    const help = spawnSync(process.execPath, [join(lib, 'src/bin/routes.cjs'), '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: routes');
    const koffi = spawnSync(process.execPath, ['-e', `console.log(typeof require(${JSON.stringify(join(lib, 'node_modules/koffi'))}).load)`], { encoding: 'utf8' });
    expect(koffi.stdout.trim()).toBe('function');
    // herald runs with the V8 options of its #! line (src/bin/herald.mjs says why); routes with Node's defaults.
    const flags = readFileSync(join(root, 'src/bin/herald.mjs'), 'utf8').split('\n', 1)[0]!.replace(/^#!.*?\bnode\b/, '').trim();
    expect(flags).toContain('--max-semi-space-size=1');
    expect(readFileSync(join(tree, 'usr/bin/herald'), 'utf8')).toContain(`exec /usr/bin/node ${flags} /usr/lib/herald/src/bin/herald.mjs "$@"`);
    expect(readFileSync(join(tree, 'usr/bin/routes'), 'utf8')).toContain('exec /usr/bin/node /usr/lib/herald/src/bin/routes.cjs "$@"');
  });

  it('has no lintian errors', () => {
    if (!needTool('lintian', 'lintian')) return;
    const r = spawnSync('lintian', ['--no-tag-display-limit', deb], { encoding: 'utf8' });
    const tags = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /^[EWIPO]: /.test(l));
    console.log(`lintian ${deb.split('/').pop()}: ${tags.length} tags\n${tags.join('\n')}`);
    expect(tags.filter((l) => l.startsWith('E: '))).toEqual([]);
    expect(r.status).toBe(0);
  }, 180_000);
});

describe('systemd unit', () => {
  it('passes systemd-analyze verify against this machine’s targets', () => {
    if (!needTool('systemd-analyze', 'systemd')) return;
    // The package's tree plus the targets and slices a unit's default
    // dependencies name, and /bin/kill for ExecReload: what a host gives it.
    const units = join(tree, 'usr/lib/systemd/system');
    const host = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'sysinit.target')))!;
    for (const f of readdirSync(host).filter((f) => /\.(target|slice)$/.test(f))) {
      if (!existsSync(join(units, f))) copyFileSync(realpathSync(join(host, f)), join(units, f));
    }
    mkdirSync(join(tree, 'bin'), { recursive: true });
    copyFileSync(realpathSync('/bin/kill'), join(tree, 'bin/kill'));
    const r = spawnSync('systemd-analyze', ['verify', `--root=${tree}`, '/usr/lib/systemd/system/herald.service'], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('has a systemd-analyze security exposure of at most 3.0', () => {
    if (!needTool('systemd-analyze', 'systemd')) return;
    const unit = join(tree, 'usr/lib/systemd/system/herald.service');
    const out = execFileSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8' });
    const m = /Overall exposure level for herald\.service: (\d+\.\d+)/.exec(out);
    expect(m, out).not.toBeNull();
    const exposure = Number(m![1]);
    console.log(`systemd-analyze security herald.service: exposure ${exposure} (target ≤ 3.0)\n${out.split('\n').filter((l) => l.startsWith('✗')).join('\n')}`);
    expect(exposure).toBeLessThanOrEqual(3.0);
    const text = readFileSync(unit, 'utf8');
    expect(text).toMatch(/^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
    expect(text).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    expect(text).toMatch(/^Type=notify$/m);
    expect(text).toMatch(/^StateDirectory=herald$/m);
    expect(text).toMatch(/^ProtectSystem=strict$/m);
    expect(text).not.toMatch(/^ReadWritePaths=.*\/etc\/herald/m);
  });
});
