import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const cases = {
  empty: ``,
  zodonly: `import * as z from 'zod'; globalThis.x = z.string;`,
  schema: `import { configSchema } from '/work/pkg/src/config/schema.ts'; globalThis.x = configSchema;`,
  config: `import { loadConfig } from '/work/pkg/src/config/index.ts'; globalThis.x = await loadConfig('/tmp/hq/idle.yaml');`,
  yaml: `import { parseDocument } from 'yaml'; globalThis.x = parseDocument('a: 1');`,
  pino: `import { makeLogger } from '/work/pkg/src/log.ts'; globalThis.x = makeLogger('info');`,
  bgp: `import * as b from '/work/pkg/bgp/index.ts'; globalThis.x = b;`,
  api: `import * as b from '/work/pkg/src/api/server.ts'; globalThis.x = b;`,
  health: `import * as b from '/work/pkg/src/sources/health/index.ts'; globalThis.x = b;`,
  state: `import * as b from '/work/pkg/src/state.ts'; globalThis.x = b;`,
  daemon: `import * as b from '/work/pkg/src/daemon.ts'; globalThis.x = b;`,
};
for (const [name, code] of Object.entries(cases)) {
  writeFileSync(`/tmp/hq/exp/${name}.ts`, code);
  await build({ entryPoints: [`/tmp/hq/exp/${name}.ts`], bundle: true, platform: 'node', format: 'esm', target: 'node20', external: ['koffi'], outfile: `/tmp/hq/exp/${name}.mjs`, minify: true, keepNames: true, logLevel: 'error', nodePaths: ['/work/pkg/node_modules'], banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" } });
  const out = execFileSync('node', ['--expose-gc', '--input-type=module', '-e', `await import('/tmp/hq/exp/${name}.mjs'); await new Promise(r=>setTimeout(r,200)); gc(); const m=process.memoryUsage(); console.log((m.rss/1048576).toFixed(1), (m.heapUsed/1048576).toFixed(1))`], { encoding: 'utf8' });
  console.log(name.padEnd(8), out.trim());
}
