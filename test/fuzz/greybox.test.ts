/**
 * The greybox fuzzer in CI: a short coverage-guided run per target (the long
 * one is `npm run fuzz`), and the committed corpus replayed as regressions.
 * Each run must execute inputs, reach blocks of bgp/ (so the coverage
 * feedback is alive) and find no crash; the figures are printed.
 */
import { describe, expect, it } from 'vitest';
// First: block coverage must be on before bgp/ is loaded (coverage.ts).
import './greybox/coverage.js';
import { Fuzzer, type Target } from './greybox/engine.js';
import { corpusPath, readCorpus } from './greybox/corpus-file.js';
import { targets } from './greybox/targets.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20240601);
/** Per target; the whole file stays under ~30 s on a 2-core machine. */
const RUN_MS = Number(process.env['FUZZ_CI_MS'] ?? 10_000);

function short(target: Target): void {
  const corpus = readCorpus(corpusPath(target.name));
  const f = new Fuzzer(target, { seed: SEED, maxMs: RUN_MS, corpus, seeds: false });
  const s = f.run();
  const total = s.execs + s.importExecs + s.replays;
  console.log(
    `greybox ${target.name}: ${total} execs in ${(s.ms / 1000).toFixed(1)} s (${s.execsPerSec.toFixed(0)}/s; ${s.execs} mutants, ` +
      `${s.replays} replays, ${s.importExecs} corpus/seed imports), ${s.features} blocks, corpus ${s.corpus}, crashes ${s.crashes.length}, ` +
      `slowest input ${s.slowest.ms.toFixed(1)} ms`,
  );
  expect(s.crashes.map((c) => c.error)).toEqual([]);
  expect(s.execs).toBeGreaterThan(0);
  // Coverage feedback works: the seeds alone reach hundreds of blocks of bgp/.
  expect(s.features).toBeGreaterThan(100);
}

describe('greybox fuzzer: short coverage-guided runs', () => {
  for (const t of Object.values(targets)) {
    it(`${t.name}: the committed corpus replays without a crash`, () => {
      const corpus = readCorpus(corpusPath(t.name));
      expect(corpus.length).toBeGreaterThan(0);
      for (const input of corpus) t.run(input);
    });

    it(`${t.name}: ${RUN_MS / 1000} s of fuzzing finds no crash`, () => short(t), RUN_MS * 4 + 30_000);
  }
});
