/**
 * herald's version, as package.json states it, for `herald --version` and
 * `routes --version`. The `routes` bundle (dist/routes.cjs) has it compiled
 * in by esbuild (src/bin/build.mjs defines HERALD_VERSION), so the CLI reads
 * no file; run from the TypeScript sources, it reads package.json beside src/.
 */
declare const HERALD_VERSION: string | undefined;

/** The package version, e.g. "0.1.0". */
export async function heraldVersion(): Promise<string> {
  if (typeof HERALD_VERSION === 'string') return HERALD_VERSION;
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
