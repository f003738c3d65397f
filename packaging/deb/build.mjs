#!/usr/bin/env node
// `npm run package:deb`: builds build/herald_<version>_<arch>.deb with
// dpkg-deb from the same file list as the npm package (`npm pack`), so the
// two install routes ship one tree (decision 0027).
//
//   /usr/lib/herald/            package.json, dist/, src/bin/ (package.json's bin), docs/…,
//                               node_modules/koffi (+ this arch's prebuilt)
//   /usr/bin/herald, routes     sh wrappers: exec /usr/bin/node …/src/bin/X.{mjs,cjs}
//   /etc/herald/herald.yaml     conffile: a commented example `herald check` accepts
//   /usr/share/herald/          herald.schema.json, examples/
//   /usr/lib/systemd/system/    herald.service (docs/systemd/herald.service)
//   /usr/share/doc/herald/      README.md, copyright, changelog.gz
//   /usr/share/man/man8/        herald.8, routes.8
//   /var/lib/herald             state (StateDirectory=herald)
//
// The architecture is the build machine's (dpkg --print-architecture), not
// `all`: koffi's prebuilt libffi bridge (koffi.node) is machine code, the one
// file that is. Refuses to package a stale dist/ (`npm run build` first; the
// npm script does). Needs dpkg-deb and, for the file list, npm.
//
//   node packaging/deb/build.mjs [--out=DIR]      (default build/)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { staleFiles } from '../../src/bin/build.mjs';
import { shebangFlags } from '../node-flags.mjs';

const root = fileURLToPath(new globalThis.URL('../..', import.meta.url));
const here = fileURLToPath(new globalThis.URL('.', import.meta.url));

/** Debian architecture → koffi's prebuilt directory for glibc. */
const KOFFI_ARCH = { amd64: ['x64', 'linux_x64'], arm64: ['arm64', 'linux_arm64'], armhf: ['arm', 'linux_armhf'], i386: ['ia32', 'linux_ia32'], riscv64: ['riscv64', 'linux_riscv64'], loong64: ['loong64', 'linux_loong64'] };
/** koffi files not needed at run time (its C++ sources, headers, docs, the build tool). */
const KOFFI_SKIP = /^(doc|vendor)\/|^cnoke\.cjs$|trampolines\.cjs$|^index\.d\.ts$|^CHANGELOG\.md$|\.(cc|hh|h|S|asm|inc|def)$|CMakeLists\.txt$/;

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', cwd: root, ...opts });
}

function walk(dir, sub = '') {
  return readdirSync(join(dir, sub), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(dir, join(sub, e.name)) : [join(sub, e.name)]));
}

function put(stage, path, contents, mode = 0o644) {
  const out = join(stage, path);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, contents);
  chmodSync(out, mode);
}

function copy(stage, from, to, mode = 0o644) {
  put(stage, to, readFileSync(from), mode);
}

/** The packages bundled into dist/, from the source maps (each maps back to node_modules/<pkg>/…). */
function bundledPackages() {
  const pkgs = new Set();
  for (const f of walk(join(root, 'dist')).filter((p) => p.endsWith('.map'))) {
    for (const s of JSON.parse(readFileSync(join(root, 'dist', f), 'utf8')).sources) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(s);
      if (m) pkgs.add(m[1]);
    }
  }
  return [...pkgs].sort().map((name) => {
    const pj = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
    return { name, version: pj.version, license: typeof pj.license === 'string' ? pj.license : 'see upstream' };
  });
}

/** debian/copyright in the machine-readable format (DEP-5). */
function copyright(pkg, bundled) {
  const lines = [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: herald',
    '',
    'Files: *',
    'Copyright: 2026 the herald authors',
    `License: ${pkg.license}`,
    '',
    'Files: usr/lib/herald/node_modules/koffi/* usr/lib/herald/node_modules/@koromix/*',
    'Copyright: Niels Martignène <niels.martignene@protonmail.com>',
    'License: MIT',
    '',
    'Comment: usr/lib/herald/dist/ also contains these npm packages, bundled by',
    ' esbuild; each keeps its upstream copyright and licence:',
    ...bundled.map((b) => ` ${b.name} ${b.version} (${b.license})`),
    'License: ISC',
    ...readFileSync(join(root, 'LICENSE'), 'utf8').split('\n').slice(2).filter((l, i, a) => i < a.length - 1 || l).map((l) => (l ? ` ${l}` : ' .')),
    '',
    'License: MIT',
    ...readFileSync(join(root, 'node_modules/koffi/LICENSE.txt'), 'utf8').trimEnd().split('\n').map((l) => (l.trim() ? ` ${l}` : ' .')),
    '',
    'License: Apache-2.0',
    ' On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.',
    '',
  ];
  return lines.join('\n');
}

function rfc2822(date) {
  return date.toUTCString().replace(/GMT$/, '+0000').replace(/^(\w+), (\d+) (\w+) (\d+)/, '$1, $2 $3 $4');
}

export function buildDeb(outDir = join(root, 'build')) {
  return staleFiles(root).then((stale) => {
    if (stale.length) throw new Error(`dist/ is stale; run \`npm run build\` first:\n  ${stale.join('\n  ')}`);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const arch = sh('dpkg', ['--print-architecture']).trim();
    const koffi = KOFFI_ARCH[arch];
    if (!koffi) throw new Error(`no koffi prebuilt for Debian architecture ${arch}`);
    const maintainer = process.env.DEB_MAINTAINER ?? 'herald authors <herald@example.org>';
    // Reproducible: the date of the last commit, else SOURCE_DATE_EPOCH, else now.
    let epoch = Number(process.env.SOURCE_DATE_EPOCH);
    if (!epoch) {
      try {
        epoch = Number(sh('git', ['log', '-1', '--format=%ct']).trim());
      } catch {
        epoch = Math.floor(Date.now() / 1000);
      }
    }

    const stage = mkdtempSync(join(tmpdir(), 'herald-deb-'));
    try {
      // The npm package's own file list.
      const [packed] = JSON.parse(sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']));
      for (const { path } of packed.files) {
        const mode = path.startsWith('src/bin/') ? 0o755 : 0o644;
        copy(stage, join(root, path), join('usr/lib/herald', path), mode);
      }
      // koffi, the one runtime dependency, with this architecture's glibc build only.
      const kdir = join(root, 'node_modules/koffi');
      for (const f of walk(kdir).filter((f) => !KOFFI_SKIP.test(f))) copy(stage, join(kdir, f), join('usr/lib/herald/node_modules/koffi', f));
      const pdir = join(root, 'node_modules/@koromix', `koffi-linux-${koffi[0]}`);
      if (!existsSync(join(pdir, koffi[1], 'koffi.node'))) throw new Error(`${pdir}/${koffi[1]}/koffi.node is missing: run npm ci on a ${arch} machine`);
      for (const f of ['package.json', 'index.js', 'README.md']) if (existsSync(join(pdir, f))) copy(stage, join(pdir, f), join('usr/lib/herald/node_modules/@koromix', `koffi-linux-${koffi[0]}`, f));
      copy(stage, join(pdir, koffi[1], 'koffi.node'), join('usr/lib/herald/node_modules/@koromix', `koffi-linux-${koffi[0]}`, koffi[1], 'koffi.node'));

      // Each wrapper gives node the V8 options its script's `#!` line gives
      // (src/bin/herald.mjs says why), so the flags live in one place.
      // The scripts are package.json's "bin" (src/bin/herald.mjs, src/bin/routes.cjs).
      for (const [bin, script] of Object.entries(pkg.bin)) {
        const flags = shebangFlags(join(root, script)).join(' ');
        put(stage, `usr/bin/${bin}`, `#!/bin/sh\n# ${bin}: herald ${pkg.version} (Debian package); runs /usr/lib/herald/${script}\nexec /usr/bin/node${flags ? ` ${flags}` : ''} /usr/lib/herald/${script} "$@"\n`, 0o755);
      }
      for (const page of ['herald.8', 'routes.8']) put(stage, `usr/share/man/man8/${page}.gz`, gzipSync(readFileSync(join(root, 'packaging/man', page)), { level: 9 }));
      copy(stage, join(root, 'packaging/herald.yaml'), 'etc/herald/herald.yaml');
      copy(stage, join(root, 'docs/herald.schema.json'), 'usr/share/herald/herald.schema.json');
      for (const f of readdirSync(join(root, 'docs/examples'))) copy(stage, join(root, 'docs/examples', f), join('usr/share/herald/examples', f));
      copy(stage, join(root, 'docs/systemd/herald.service'), 'usr/lib/systemd/system/herald.service');
      copy(stage, join(root, 'README.md'), 'usr/share/doc/herald/README.md');
      put(stage, 'usr/share/doc/herald/copyright', copyright(pkg, bundledPackages()));
      const changelog = `herald (${pkg.version}) unstable; urgency=medium\n\n  * Release ${pkg.version}; see the project's history for changes.\n\n -- ${maintainer}  ${rfc2822(new Date(epoch * 1000))}\n`;
      put(stage, 'usr/share/doc/herald/changelog.gz', gzipSync(changelog, { level: 9 }));
      mkdirSync(join(stage, 'var/lib/herald'), { recursive: true });

      // Control area.
      const files = walk(stage);
      const installedKb = Math.ceil(files.reduce((n, f) => n + statSync(join(stage, f)).size, 0) / 1024);
      const control = [
        'Package: herald',
        `Version: ${pkg.version}`,
        `Architecture: ${arch}`,
        `Maintainer: ${maintainer}`,
        `Installed-Size: ${installedKb}`,
        'Depends: nodejs (>= 20), adduser, libc6',
        'Section: net',
        'Priority: optional',
        `Description: ${pkg.description.split(':')[0]}`,
        ' herald announces anycast services to routers over BGP while they are',
        ' healthy: an in-process BGP speaker (RFC 4271, TCP MD5, IPv4 and IPv6),',
        ' health checks (tcp, http, https, dns, exec, maintenance file), LXD and',
        ' Incus instances as a route source, a control API, the `routes` CLI and',
        ' Prometheus metrics.',
        '',
      ].join('\n');
      put(stage, 'DEBIAN/control', control);
      put(stage, 'DEBIAN/conffiles', '/etc/herald/herald.yaml\n');
      for (const s of ['postinst', 'prerm', 'postrm']) copy(stage, join(here, s), `DEBIAN/${s}`, 0o755);
      const md5 = files
        .filter((f) => !f.startsWith('etc/'))
        .sort()
        .map((f) => `${createHash('md5').update(readFileSync(join(stage, f))).digest('hex')}  ${f}`)
        .join('\n');
      put(stage, 'DEBIAN/md5sums', `${md5}\n`);

      mkdirSync(outDir, { recursive: true });
      const deb = join(resolve(outDir), `herald_${pkg.version}_${arch}.deb`);
      for (const d of walk(stage).map((f) => dirname(join(stage, f)))) chmodSync(d, 0o755);
      chmodSync(join(stage, 'var/lib/herald'), 0o755);
      chmodSync(stage, 0o755);
      sh('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], { env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
      return { deb, arch, version: pkg.version, files: files.length, installedKb };
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outArg = process.argv.slice(2).find((a) => a.startsWith('--out='));
  try {
    const r = await buildDeb(outArg ? resolve(outArg.slice(6)) : undefined);
    process.stdout.write(`${relative(process.cwd(), r.deb)} (${r.files} files, ${r.installedKb} KiB installed)\n`);
  } catch (e) {
    process.stderr.write(`package:deb: ${e.message}\n`);
    process.exit(1);
  }
}
