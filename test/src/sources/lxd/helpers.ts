/**
 * Shared by the LXD source's unit tests: the real LXD API responses in
 * ../shared/lab/lxd-samples (beside the repository, as the corpus tests find
 * their MRT data; HERALD_LXD_SAMPLES overrides), and a polling wait.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
export const SAMPLES = process.env['HERALD_LXD_SAMPLES'] ?? resolve(here, '../../../../../shared/lab/lxd-samples');

/** The `metadata` of one sample response. */
export const sample = <T>(name: string): T => (JSON.parse(readFileSync(`${SAMPLES}/${name}`, 'utf8')) as { metadata: T }).metadata;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `f` every `everyMs` until it returns something truthy; throw after `timeoutMs`. */
export async function until<T>(f: () => T | undefined | false, timeoutMs = 3000, everyMs = 2): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(everyMs);
  }
}
