/**
 * The committed fuzz corpus: test/fuzz/corpus/<target>.hex, one input per
 * line in hex, `#` lines are comments. Kept minimised (the smallest input for
 * every block reached, engine.ts `minimised()`), so it stays small and each
 * line earns its place.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const CORPUS_DIR = join(here, '..', 'corpus');

export function corpusPath(target: string): string {
  return join(CORPUS_DIR, `${target}.hex`);
}

/** Read a corpus file; an absent file is an empty corpus. */
export function readCorpus(path: string): Uint8Array[] {
  if (!existsSync(path)) return [];
  const out: Uint8Array[] = [];
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.length % 2 !== 0 || /[^0-9a-f]/i.test(line)) throw new Error(`${path}: bad hex line`);
    out.push(Uint8Array.from(Buffer.from(line, 'hex')));
  }
  return out;
}

export function writeCorpus(path: string, header: string, inputs: readonly Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const lines = header.split('\n').map((l) => `# ${l}`);
  for (const i of inputs) lines.push(Buffer.from(i).toString('hex'));
  writeFileSync(path, `${lines.join('\n')}\n`);
}
