/**
 * A coverage-guided greybox fuzzer driven by V8 block coverage (coverage.ts).
 *
 * Why our own: @jazzer.js/core's prebuilt addon needs GLIBC 2.38 and
 * GLIBCXX 3.4.32 (Debian 12 has 2.36 and 3.4.30), and building it needs
 * LLVM's libFuzzer sources from outside the npm registry (docs/testing.md).
 *
 * The loop (AFL's, with V8 as the instrumentation):
 *
 *   corpus <- seeds that reach new blocks
 *   repeat:
 *     batch <- B mutants of corpus entries (favoured entries first)
 *     run each; any throw is a crash (kept, de-duplicated, not added)
 *     take coverage once for the whole batch
 *     if it holds a block never seen: replay each mutant alone with its own
 *       take, and add those that reach new blocks to the corpus
 *
 * Batching keeps the cost of a take (~0.2-1 ms, more than most inputs) off
 * the common path: a batch that finds nothing new costs one take; the bits
 * are sticky until taken, so "nothing new in the batch" implies "nothing new
 * in any of its inputs". Every input is still judged by coverage.
 *
 * Scheduling: for every block the smallest corpus entry that reaches it is
 * its "top rated" entry; entries top-rated for some block are favoured and
 * picked 80% of the time. The favoured set is also the minimised corpus
 * (every block reached, by the smallest inputs).
 */
import { BlockCoverage } from './coverage.js';
import { Dictionary, Rng, mutate } from './mutators.js';

/** What the fuzzer drives: one input in, a throw means a bug. */
export interface Target {
  readonly name: string;
  /** Run one input to completion; throwing anything is a finding. */
  run(input: Uint8Array): void;
  /** Initial inputs (real data and hand-made messages). */
  seeds(): Uint8Array[];
  /** Offset at which the message stream starts in an input (after the target's flags). */
  readonly streamOffset: number;
}

export interface Crash {
  input: Uint8Array;
  error: string;
  key: string;
}

export interface Entry {
  input: Uint8Array;
  features: Int32Array;
  picked: number;
}

export interface FuzzOptions {
  seed?: number;
  /** Fuzz this long (ms) after importing the corpus and seeds. */
  maxMs: number;
  /** Mutants per coverage take. */
  batch?: number;
  /** Extra corpus to start from (e.g. the committed one), before the target's seeds. */
  corpus?: Uint8Array[];
  /** Import the target's seeds too (default true; the CI run starts from the committed corpus alone). */
  seeds?: boolean;
  /** Progress line every `progressMs` (default 10 s). */
  progress?: (s: FuzzStats) => void;
  progressMs?: number;
  /** Called for each new corpus entry and each new crash. */
  onEntry?: (e: Entry) => void;
  onCrash?: (c: Crash) => void;
  /** Coverage filter on script URLs (default: herald's bgp/ code). */
  filter?: (url: string) => boolean;
  /** Inputs slower than this (ms) are reported. */
  slowMs?: number;
}

export interface FuzzStats {
  target: string;
  /** Mutants executed (each judged by coverage). */
  execs: number;
  /** Executions of seeds and corpus entries while importing them. */
  importExecs: number;
  /** Re-executions of batch members to find which one reached new blocks. */
  replays: number;
  corpus: number;
  favoured: number;
  /** Blocks and functions reached. */
  features: number;
  crashes: Crash[];
  ms: number;
  execsPerSec: number;
  slowest: { ms: number; input: Uint8Array | null };
}

export const bgpOnly = (url: string): boolean => /\/bgp\/.*\.ts/.test(url) && !url.includes('node_modules');

/** Describe a throw in one line plus where it came from (de-duplication key). */
function crashOf(input: Uint8Array, e: unknown): Crash {
  const err = e instanceof Error ? e : new Error(String(e));
  const frame = (err.stack ?? '').split('\n').find((l) => /\/(bgp|test)\//.test(l)) ?? '';
  const where = frame.replace(/^\s*at\s+/, '').replace(/:\d+(:\d+)?\)?$/, '');
  const msg = `${err.constructor.name}: ${err.message.split('\n')[0]}`;
  return { input, error: `${msg}\n${err.stack ?? ''}`, key: `${msg.replace(/\d+/g, 'N').slice(0, 120)} @ ${where}` };
}

export class Fuzzer {
  readonly target: Target;
  private readonly cov: BlockCoverage;
  private readonly rng: Rng;
  private readonly dict = new Dictionary();
  readonly corpus: Entry[] = [];
  private seen = new Uint8Array(1 << 12);
  private featureCount = 0;
  /** feature id -> index of the smallest entry reaching it. */
  private readonly topRated = new Map<number, number>();
  private favoured: number[] = [];
  private favouredDirty = true;
  private readonly crashKeys = new Map<string, Crash>();
  private readonly opts: FuzzOptions;
  private stats: FuzzStats;

  constructor(target: Target, opts: FuzzOptions) {
    this.target = target;
    this.opts = opts;
    this.rng = new Rng(opts.seed ?? 1);
    this.cov = new BlockCoverage(opts.filter ?? bgpOnly);
    this.stats = {
      target: target.name,
      execs: 0,
      importExecs: 0,
      replays: 0,
      corpus: 0,
      favoured: 0,
      features: 0,
      crashes: [],
      ms: 0,
      execsPerSec: 0,
      slowest: { ms: 0, input: null },
    };
  }

  /** Run one input; returns false when it threw (a crash, recorded). */
  private exec(input: Uint8Array): boolean {
    const t0 = performance.now();
    try {
      this.target.run(input);
      return true;
    } catch (e) {
      const c = crashOf(input, e);
      if (!this.crashKeys.has(c.key)) {
        this.crashKeys.set(c.key, c);
        this.stats.crashes.push(c);
        this.opts.onCrash?.(c);
      }
      return false;
    } finally {
      const ms = performance.now() - t0;
      if (ms > this.stats.slowest.ms) this.stats.slowest = { ms, input };
    }
  }

  private isSeen(id: number): boolean {
    return id < this.seen.length * 8 && (this.seen[id >>> 3]! & (1 << (id & 7))) !== 0;
  }

  private markSeen(id: number): void {
    while (id >= this.seen.length * 8) {
      const bigger = new Uint8Array(this.seen.length * 2);
      bigger.set(this.seen);
      this.seen = bigger;
    }
    if (!this.isSeen(id)) {
      this.seen[id >>> 3]! |= 1 << (id & 7);
      this.featureCount++;
    }
  }

  private hasNew(features: readonly number[]): boolean {
    for (const f of features) if (!this.isSeen(f)) return true;
    return false;
  }

  private add(input: Uint8Array, features: readonly number[]): void {
    const uniq = Int32Array.from(new Set(features));
    const idx = this.corpus.length;
    const e: Entry = { input, features: uniq, picked: 0 };
    this.corpus.push(e);
    for (const f of uniq) {
      this.markSeen(f);
      const best = this.topRated.get(f);
      if (best === undefined || this.corpus[best]!.input.length > input.length) {
        this.topRated.set(f, idx);
        this.favouredDirty = true;
      }
    }
    this.dict.add(input, this.target.streamOffset);
    this.opts.onEntry?.(e);
  }

  /** Run one input alone and keep it when it reaches a new block; true when kept. */
  private tryAlone(input: Uint8Array, counter: 'importExecs' | 'replays'): boolean {
    this.cov.take();
    const ok = this.exec(input);
    this.stats[counter]++;
    const f = this.cov.take();
    if (ok && this.hasNew(f)) {
      this.add(input, f);
      return true;
    }
    return false;
  }

  private favouredList(): number[] {
    if (this.favouredDirty) {
      this.favoured = [...new Set(this.topRated.values())];
      this.favouredDirty = false;
    }
    return this.favoured;
  }

  private schedule(): Entry {
    const fav = this.favouredList();
    const i = fav.length && this.rng.chance(0.8) ? this.rng.pick(fav) : this.rng.int(this.corpus.length);
    const e = this.corpus[i]!;
    e.picked++;
    return e;
  }

  /** Import the given corpus and the target's seeds, keeping those that reach new blocks. */
  private importAll(): void {
    const seeds = this.opts.seeds === false && this.opts.corpus?.length ? [] : this.target.seeds();
    for (const input of [...(this.opts.corpus ?? []), ...seeds]) {
      this.dict.add(input, this.target.streamOffset);
      this.tryAlone(input, 'importExecs');
    }
    if (this.corpus.length === 0) {
      // Nothing reached bgp/ code (cannot happen with real seeds): start from one empty input.
      this.add(new Uint8Array(1), []);
    }
  }

  /** Fuzz until the time is up; returns the figures. */
  run(): FuzzStats {
    const t0 = performance.now();
    const B = this.opts.batch ?? 32;
    const progressMs = this.opts.progressMs ?? 10_000;
    let nextProgress = t0 + progressMs;
    this.cov.start();
    try {
      this.importAll();
      // The time budget is for fuzzing: it starts after the import, and at least one batch runs.
      const stopAt = performance.now() + this.opts.maxMs;
      const batch: Uint8Array[] = new Array<Uint8Array>(B);
      const feats: number[] = [];
      for (let now = performance.now(), first = true; first || now < stopAt; now = performance.now(), first = false) {
        for (let i = 0; i < B; i++) {
          const parent = this.schedule();
          const other = this.rng.chance(0.3) ? this.corpus[this.rng.int(this.corpus.length)]!.input : null;
          const m = mutate(this.rng, parent.input, other, this.dict);
          batch[i] = m;
          this.exec(m);
        }
        this.stats.execs += B;
        feats.length = 0;
        this.cov.take(feats);
        if (this.hasNew(feats)) for (const m of batch) this.tryAlone(m, 'replays');
        if (now >= nextProgress) {
          nextProgress = now + progressMs;
          this.opts.progress?.(this.figures(t0));
        }
      }
    } finally {
      this.cov.take();
    }
    return this.figures(t0);
  }

  private figures(t0: number): FuzzStats {
    const ms = performance.now() - t0;
    const s = this.stats;
    s.ms = ms;
    s.corpus = this.corpus.length;
    s.favoured = this.favouredList().length;
    s.features = this.featureCount;
    s.execsPerSec = ((s.execs + s.importExecs + s.replays) * 1000) / ms;
    return { ...s, crashes: [...s.crashes] };
  }

  /** The minimised corpus: the smallest entry for every block reached, in discovery order. */
  minimised(): Uint8Array[] {
    return [...this.favouredList()].sort((a, b) => a - b).map((i) => this.corpus[i]!.input);
  }
}
