#!/usr/bin/env node
// Clean-root install test and container image check (decision 0027).
//
// Builds a clean Debian root with mmdebstrap — Debian's minbase, which is
// what the Dockerfile's `FROM debian:<suite>-slim` image is — then applies
// the Dockerfile's own steps to it (COPY, RUN in a chroot, USER, WORKDIR,
// ENTRYPOINT, CMD, HEALTHCHECK), which installs the Debian package the way
// an operator does (apt-get install ./herald_*.deb pulls Debian's nodejs).
// Then, in that root:
//   - the package is installed, nodejs is >= 20, the `herald` user exists,
//     /var/lib/herald is herald's, /etc/herald/herald.yaml is 0640 root:herald;
//   - as the image's USER: ENTRYPOINT + `check --config /etc/herald/herald.yaml`
//     and `routes --help` succeed;
//   - the daemon starts as that user from ENTRYPOINT + CMD (tini → herald) in a
//     fresh network namespace, binds port 179 with the file capability the
//     image gives node, and the HEALTHCHECK command succeeds against it.
// It also lints the Dockerfile (rules below). No Docker daemon is needed;
// what this does not cover is Docker itself (layers, the registry's
// debian:trixie-slim bytes, `docker run` flags).
//
//   node packaging/test-root.mjs [--deb=PATH] [--suite=trixie] [--mirror=URL] [--keep]
//
// Needs root, mmdebstrap, iproute2 and the Debian mirror. `.ci/run` runs it
// after `npm test` when mmdebstrap is installed (it installs it). ~3-5 min.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new globalThis.URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split(/=(.*)/s)).map(([k, v]) => [k, v ?? true]));
const suite = args.suite ?? 'trixie';
const mirror = args.mirror ?? 'http://deb.debian.org/debian';
const t0 = Date.now();
const failures = [];
const log = (m) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
function ok(cond, what) {
  log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures.push(what);
}

/** Dockerfile instructions: [{ op, arg, line }], continuations joined, comments dropped. */
function parseDockerfile(text) {
  const out = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    if (!buf && /^\s*(#|$)/.test(raw)) return;
    if (!buf) start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += `${raw.replace(/\\\s*$/, '')} `;
      return;
    }
    buf += raw;
    const m = /^\s*(\w+)\s+(.*)$/s.exec(buf);
    if (m) out.push({ op: m[1].toUpperCase(), arg: m[2].trim(), line: start });
    buf = '';
  });
  return out;
}

/** Lint rules for this project's Dockerfile; returns the problems. */
function lint(ins) {
  const p = [];
  const ops = ins.map((i) => i.op);
  const from = ins.find((i) => i.op === 'FROM');
  if (!from || /:latest$|^[^:]+$/.test(from.arg)) p.push('FROM must name a pinned tag, not latest');
  const user = ins.findLast((i) => i.op === 'USER');
  if (!user || /^(root|0)(:|$)/.test(user.arg)) p.push('the image must end as a non-root USER');
  if (ops.lastIndexOf('USER') > ops.indexOf('ENTRYPOINT')) p.push('USER must come before ENTRYPOINT');
  if (!ops.includes('HEALTHCHECK')) p.push('a HEALTHCHECK is required');
  const ep = ins.find((i) => i.op === 'ENTRYPOINT');
  if (!ep || !ep.arg.startsWith('[')) p.push('ENTRYPOINT must be in exec form');
  else if (!/tini/.test(JSON.parse(ep.arg)[0])) p.push('ENTRYPOINT must start with tini (reaps exec checks\' grandchildren)');
  for (const r of ins.filter((i) => i.op === 'RUN')) {
    if (/apt-get install/.test(r.arg) && !/--no-install-recommends/.test(r.arg)) p.push(`line ${r.line}: apt-get install without --no-install-recommends`);
    if (/apt-get update/.test(r.arg) && !/rm -rf \/var\/lib\/apt\/lists/.test(r.arg)) p.push(`line ${r.line}: apt lists left in the layer`);
    if (/apt-get install/.test(r.arg) && !/-y\b/.test(r.arg)) p.push(`line ${r.line}: apt-get install without -y`);
  }
  for (const i of ins) if (!['FROM', 'COPY', 'RUN', 'USER', 'WORKDIR', 'ENTRYPOINT', 'CMD', 'HEALTHCHECK', 'ENV', 'LABEL', 'EXPOSE'].includes(i.op)) p.push(`line ${i.line}: ${i.op} is not handled by this test`);
  return p;
}

const sh = (cmd, a, o = {}) => execFileSync(cmd, a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...o });

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (mmdebstrap --mode=root, chroot, network namespaces)');
  for (const tool of ['mmdebstrap', 'ip', 'chroot']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed`);

  const ins = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  const problems = lint(ins);
  ok(problems.length === 0, `Dockerfile lint${problems.length ? `: ${problems.join('; ')}` : ` (${ins.length} instructions)`}`);

  let deb = args.deb ? resolve(args.deb) : null;
  if (!deb) {
    const { buildDeb } = await import('./deb/build.mjs');
    deb = (await buildDeb()).deb;
  }
  log(`package: ${deb}`);

  const work = mkdtempSync(join(tmpdir(), 'herald-root-'));
  const rootfs = join(work, 'root');
  const ns = `herald-root-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  let procMounted = false;
  let nsMade = false;
  try {
    const from = ins.find((i) => i.op === 'FROM').arg;
    const m = /^debian:(\w+)-slim$/.exec(from);
    if (!m) throw new Error(`FROM ${from}: this test builds only debian:<suite>-slim`);
    if (m[1] !== suite && !args.suite) log(`FROM names ${m[1]}; building that suite`);
    const fromSuite = args.suite ? suite : m[1];
    log(`mmdebstrap --variant=minbase ${fromSuite} (${mirror}) — the clean root`);
    sh('mmdebstrap', ['--mode=root', '--variant=minbase', '--quiet', fromSuite, rootfs, mirror]);
    log(`clean root: ${sh('du', ['-sh', rootfs]).split('\t')[0]}`);

    const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', DEBIAN_FRONTEND: 'noninteractive', HOME: '/root', LANG: 'C.UTF-8' };
    let user = 'root';
    let workdir = '/';
    let entrypoint = [];
    let cmd = [];
    let health = null;
    copyFileSync('/etc/resolv.conf', join(rootfs, 'etc/resolv.conf'));
    for (const i of ins) {
      switch (i.op) {
        case 'FROM':
        case 'LABEL':
        case 'EXPOSE':
          break;
        case 'COPY': {
          const parts = i.arg.split(/\s+/);
          const dest = parts.pop();
          for (const src of parts) {
            // The one COPY this project has: the .deb built above.
            if (!/herald_\*\.deb$/.test(src)) throw new Error(`line ${i.line}: COPY ${src} is not handled by this test`);
            mkdirSync(join(rootfs, dest), { recursive: true });
            copyFileSync(deb, join(rootfs, dest, basename(deb)));
          }
          break;
        }
        case 'RUN': {
          log(`RUN (line ${i.line}) in the chroot`);
          const r = spawnSync('chroot', [rootfs, '/bin/sh', '-ec', i.arg], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
          if (r.status !== 0) throw new Error(`RUN at line ${i.line} failed (${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
          break;
        }
        case 'ENV': {
          const [k, v] = i.arg.split(/[= ](.*)/s);
          env[k] = v;
          break;
        }
        case 'USER':
          user = i.arg;
          break;
        case 'WORKDIR':
          workdir = i.arg;
          break;
        case 'ENTRYPOINT':
          entrypoint = JSON.parse(i.arg);
          break;
        case 'CMD':
          cmd = JSON.parse(i.arg);
          break;
        case 'HEALTHCHECK':
          health = JSON.parse(i.arg.replace(/^.*?CMD\s+/, ''));
          break;
      }
    }
    rmSync(join(rootfs, 'etc/resolv.conf'), { force: true });

    // The clean-root install.
    const inRoot = (a, o = {}) => spawnSync('chroot', [rootfs, ...a], { env, encoding: 'utf8', ...o });
    ok(/install ok installed/.test(inRoot(['dpkg-query', '-W', '-f=${Status}', 'herald']).stdout), 'herald package installed by apt from the .deb');
    const nodeVersion = inRoot(['node', '--version']).stdout.trim();
    ok(Number(/^v(\d+)/.exec(nodeVersion)?.[1]) >= 20, `nodejs from ${fromSuite}: ${nodeVersion} (>= 20)`);
    const id = inRoot(['id', 'herald']).stdout.trim();
    ok(/^uid=\d+\(herald\) gid=\d+\(herald\)/.test(id), `system user: ${id}`);
    const st = (p) => inRoot(['stat', '-c', '%a %U:%G', p]).stdout.trim();
    ok(st('/var/lib/herald') === '750 herald:herald', `/var/lib/herald ${st('/var/lib/herald')}`);
    ok(st('/etc/herald/herald.yaml') === '640 root:herald', `/etc/herald/herald.yaml ${st('/etc/herald/herald.yaml')}`);
    ok(existsSync(join(rootfs, 'usr/share/herald/herald.schema.json')), '/usr/share/herald/herald.schema.json');
    ok(existsSync(join(rootfs, 'usr/lib/systemd/system/herald.service')), 'systemd unit installed');

    const asUser = user === 'root' ? [] : ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups'];
    const check = inRoot([...asUser, ...entrypoint, 'check', '--config', '/etc/herald/herald.yaml']);
    ok(check.status === 0 && /router_id:/.test(check.stdout), `as ${user}: ${[...entrypoint, 'check', '--config', '/etc/herald/herald.yaml'].join(' ')} → ${check.status}${check.status ? `: ${check.stderr}` : ''}`);
    const help = inRoot([...asUser, 'routes', '--help']);
    ok(help.status === 0 && /usage: routes/.test(help.stdout), `as ${user}: routes --help → ${help.status}`);
    if (spawnSync('sh', ['-c', 'command -v getcap']).status === 0) {
      const real = inRoot(['readlink', '-f', '/usr/bin/node']).stdout.trim();
      const caps = sh('getcap', [join(rootfs, real)]).trim();
      ok(/cap_net_bind_service[=+]ep/.test(caps), `file capability on node: ${caps || '(none)'}`);
    }

    // The container's process: ENTRYPOINT + CMD as USER in its own network namespace.
    sh('ip', ['netns', 'add', ns]);
    nsMade = true;
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('mount', ['-t', 'proc', 'proc', join(rootfs, 'proc')]);
    procMounted = true;
    // Docker's default bounding set holds NET_BIND_SERVICE; the documented run drops all others.
    const caps = asUser.length ? ['--inh-caps=-all', '--bounding-set=-all,+net_bind_service'] : [];
    // WORKDIR as Docker applies it: the process starts there.
    const argv = ['netns', 'exec', ns, 'chroot', rootfs, ...asUser, ...caps, '/bin/sh', '-c', 'cd "$0" && exec "$@"', workdir, ...entrypoint, ...cmd];
    log(`start: ip ${argv.join(' ')}`);
    const child = spawn('ip', argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const deadline = Date.now() + 30_000;
    while (!out.includes('herald started') && child.exitCode === null && Date.now() < deadline) await sleep(50);
    const started = out.includes('herald started');
    ok(started, `daemon started as ${user} (listening on port 179 of its namespace)${started ? '' : `:\n${out}`}`);
    if (health) {
      const h = spawnSync('ip', ['netns', 'exec', ns, 'chroot', rootfs, ...asUser, ...health], { env, encoding: 'utf8' });
      ok(h.status === 0, `HEALTHCHECK ${health.join(' ')} → ${h.status}${h.status ? `: ${h.stdout}${h.stderr}` : ''}`);
    }
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    ok(code === 0, `SIGTERM: exit ${code}${signal ? ` (${signal})` : ''}`);
  } finally {
    if (procMounted) spawnSync('umount', [join(rootfs, 'proc')]);
    if (nsMade) spawnSync('ip', ['netns', 'delete', ns]);
    if (args.keep) log(`kept ${rootfs}`);
    else rmSync(work, { recursive: true, force: true });
  }
  log(failures.length ? `${failures.length} check(s) failed` : 'all checks passed');
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`test-root: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
