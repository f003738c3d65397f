/**
 * `npm run fuzz -- --target=decode|pipeline --minutes=N`: the long fuzz run.
 *
 * Options:
 *   --target=decode|pipeline   what to fuzz (targets in this directory)
 *   --minutes=N                how long to fuzz after importing the corpus (default 10; fractions allowed)
 *   --seed=N                   mutation PRNG seed (default: from the clock, printed)
 *   --batch=N                  mutants per coverage take (default 32)
 *   --out=DIR                  where new inputs, crashes and stats go (default /tmp/herald-fuzz-<target>-<pid>)
 *   --update-corpus            at the end, write the minimised corpus to test/fuzz/corpus/<target>.hex
 *   --fresh                    do not start from the committed corpus (seeds only)
 *   --corpus=FILE              also start from this corpus file (e.g. an earlier run's OUT/new.hex)
 *
 * Starts from the committed corpus plus the MRT seeds, prints a progress
 * line every 10 s, appends every new corpus entry to OUT/new.hex and every
 * distinct crash to OUT/crash-N.hex (the crasher file format of
 * test/fuzz/fuzz-support.ts: paste it into test/fuzz/crashers/ to keep it),
 * and exits 1 when anything crashed. Run it niced on a shared machine:
 *   nice -n 15 npm run fuzz -- --target=decode --minutes=60
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fuzzer, type FuzzStats, type Target } from './engine.js';
import { corpusPath, readCorpus, writeCorpus } from './corpus-file.js';
import { crashFile, targets } from './targets.js';

function arg(name: string): string | undefined {
  const pre = `--${name}=`;
  const hit = process.argv.find((a) => a.startsWith(pre));
  return hit === undefined ? undefined : hit.slice(pre.length);
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

function line(s: FuzzStats): string {
  const total = s.execs + s.importExecs + s.replays;
  return (
    `[${s.target}] ${(s.ms / 1000).toFixed(0)}s execs=${total} (mutants ${s.execs}, replays ${s.replays}, imports ${s.importExecs}) ` +
    `${s.execsPerSec.toFixed(0)}/s corpus=${s.corpus} favoured=${s.favoured} blocks=${s.features} crashes=${s.crashes.length} ` +
    `slowest=${s.slowest.ms.toFixed(1)}ms`
  );
}

function main(): number {
  const name = arg('target') ?? 'decode';
  const target: Target | undefined = targets[name];
  if (!target) {
    console.error(`unknown --target=${name}; one of: ${Object.keys(targets).join(', ')}`);
    return 2;
  }
  const minutes = Number(arg('minutes') ?? 10);
  if (!(minutes > 0)) {
    console.error(`--minutes must be a positive number, got ${arg('minutes')}`);
    return 2;
  }
  const seed = Number(arg('seed') ?? (Date.now() % 0x7fffffff));
  const out = arg('out') ?? `/tmp/herald-fuzz-${name}-${process.pid}`;
  mkdirSync(out, { recursive: true });
  const extra = arg('corpus');
  const committed = [...(flag('fresh') ? [] : readCorpus(corpusPath(name))), ...(extra !== undefined ? readCorpus(extra) : [])];
  console.log(`fuzzing ${name} for ${minutes} min, seed ${seed}, ${committed.length} committed corpus inputs, output in ${out}`);
  let crashes = 0;
  const fuzzer = new Fuzzer(target, {
    seed,
    maxMs: minutes * 60_000,
    batch: Number(arg('batch') ?? 32),
    corpus: committed,
    progress: (s) => {
      console.log(line(s));
      writeFileSync(join(out, 'stats.json'), JSON.stringify({ ...s, crashes: s.crashes.map((c) => c.key), slowest: s.slowest.ms }, null, 1));
    },
    onEntry: (e) => appendFileSync(join(out, 'new.hex'), `${Buffer.from(e.input).toString('hex')}\n`),
    onCrash: (c) => {
      crashes++;
      const f = join(out, `crash-${crashes}.hex`);
      writeFileSync(f, crashFile(name, c));
      console.log(`CRASH ${c.key}\n  saved to ${f}`);
    },
  });
  const s = fuzzer.run();
  console.log(line(s));
  writeFileSync(join(out, 'stats.json'), JSON.stringify({ ...s, crashes: s.crashes.map((c) => c.key), slowest: s.slowest.ms }, null, 1));
  if (flag('update-corpus')) {
    const min = fuzzer.minimised();
    const path = corpusPath(name);
    writeCorpus(
      path,
      `greybox corpus for target "${name}" (test/fuzz/greybox): the smallest input reaching each of ${s.features} blocks;\n` +
        `one input a line, hex, the first octet is the target's flags octet. Regenerate: npm run fuzz -- --target=${name} --update-corpus`,
      min,
    );
    console.log(`wrote ${min.length} inputs to ${path}`);
  }
  return s.crashes.length > 0 ? 1 : 0;
}

process.exitCode = main();
