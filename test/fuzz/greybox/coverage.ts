/**
 * V8 block coverage as fuzzing feedback (the fuzzer's eyes).
 *
 * `node:inspector` talks to the V8 inspector of this very isolate. With
 * `Profiler.startPreciseCoverage({ callCount: false, detailed: true })` V8
 * keeps one "executed" bit per basic block (binary block coverage) and
 * `Profiler.takePreciseCoverage` returns the bits set since the last take
 * and clears them. A session posting to its own isolate gets its answer
 * synchronously, so one take is a plain function call (~0.2 ms).
 *
 * V8 reports, per executed function, the function's range and the nested
 * ranges whose bit differs from the range around them: a block that ran
 * inside a function that ran is usually *not* reported (same bit as its
 * parent), only the blocks that did not run are. So a block's identity is
 * learnt from any report that names it, and from then on each take decides
 * for every known block whether it ran: the bit of the innermost reported
 * range that contains it. A feature is "block B of function F ran"; its id
 * is a small integer, so the engine keeps seen features in a Set<number>.
 *
 * Only scripts whose URL passes the filter count (the code under test,
 * bgp/), so the fuzzer's own work between inputs adds no noise.
 *
 * V8 instruments a function for block coverage when it is compiled, so
 * coverage is switched on when this module is first evaluated, before the
 * code under test is loaded (import this module first), and never switched
 * off: a function compiled earlier, or recompiled after a stop, would report
 * no blocks. One session serves every BlockCoverage in the process.
 */
import { Session } from 'node:inspector';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface FunctionCoverage {
  functionName: string;
  ranges: Range[];
}
interface ScriptCoverage {
  scriptId: string;
  url: string;
  functions: FunctionCoverage[];
}

/** What is known about one function: the block ranges seen so far and their feature ids. */
interface FnInfo {
  /** Feature id of "the function ran". */
  readonly self: number;
  starts: number[];
  ends: number[];
  ids: number[];
}

const session = new Session();
session.connect();
post('Profiler.enable');
post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });

function post<T>(method: string, params?: object): T {
  let out: T | undefined;
  let err: Error | null = null;
  let answered = false;
  session.post(method, params ?? {}, (e: Error | null, r?: unknown) => {
    err = e;
    out = r as T;
    answered = true;
  });
  // A same-thread session answers before post() returns; anything else would be a Node change.
  if (!answered) throw new Error(`inspector ${method}: no synchronous answer`);
  if (err) throw err;
  return out as T;
}

export class BlockCoverage {
  private readonly filter: (url: string) => boolean;
  /** scriptId -> functions by start offset, or null for a script outside the filter. */
  private readonly scripts = new Map<string, Map<number, FnInfo> | null>();
  private nextId = 0;
  /** Human-readable name per feature id (for reports). */
  private readonly names: string[] = [];

  constructor(filter: (url: string) => boolean) {
    this.filter = filter;
  }

  /** Clear the bits: what ran before does not count. */
  start(): void {
    this.take();
  }

  /** Number of distinct features (blocks and functions) named so far. */
  get known(): number {
    return this.nextId;
  }

  /** Name a feature, e.g. "bgp/wire/reader.ts:u16+120..180". */
  name(id: number): string {
    return this.names[id] ?? `#${id}`;
  }

  private newId(name: string): number {
    this.names.push(name);
    return this.nextId++;
  }

  /** Read and clear the bits: the features that ran since the last take, appended to `into`. */
  take(into: number[] = []): number[] {
    const res = post<{ result: ScriptCoverage[] }>('Profiler.takePreciseCoverage');
    for (const sc of res.result) {
      let fns = this.scripts.get(sc.scriptId);
      if (fns === undefined) {
        fns = this.filter(sc.url) ? new Map() : null;
        this.scripts.set(sc.scriptId, fns);
      }
      if (fns === null) continue;
      for (const f of sc.functions) this.collect(sc.url, fns, f, into);
    }
    return into;
  }

  private collect(url: string, fns: Map<number, FnInfo>, f: FunctionCoverage, into: number[]): void {
    const rs = f.ranges;
    const top = rs[0];
    if (top === undefined || top.count === 0) return;
    let info = fns.get(top.startOffset);
    if (info === undefined) {
      const short = url.slice(url.lastIndexOf('/bgp/') + 1);
      info = { self: this.newId(`${short}:${f.functionName || '(anon)'}`), starts: [], ends: [], ids: [] };
      fns.set(top.startOffset, info);
    }
    into.push(info.self);
    // Learn block ranges named for the first time.
    for (let i = 1; i < rs.length; i++) {
      const r = rs[i]!;
      let seen = false;
      for (let k = 0; k < info.starts.length; k++) {
        if (info.starts[k] === r.startOffset && info.ends[k] === r.endOffset) {
          seen = true;
          break;
        }
      }
      if (!seen) {
        info.starts.push(r.startOffset);
        info.ends.push(r.endOffset);
        info.ids.push(this.newId(`${this.names[info.self]}+${r.startOffset}..${r.endOffset}`));
      }
    }
    // Each known block ran when the innermost reported range around it ran.
    for (let k = 0; k < info.starts.length; k++) {
      const s = info.starts[k]!;
      const e = info.ends[k]!;
      let bit = top.count;
      let best = top.endOffset - top.startOffset;
      for (let i = 1; i < rs.length; i++) {
        const r = rs[i]!;
        if (r.startOffset <= s && e <= r.endOffset && r.endOffset - r.startOffset <= best) {
          best = r.endOffset - r.startOffset;
          bit = r.count;
        }
      }
      if (bit > 0) into.push(info.ids[k]!);
    }
  }
}
