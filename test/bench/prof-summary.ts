/**
 * Summarise a V8 .cpuprofile (as written by `npm run bench -- --cpu-prof`):
 * self time per function (with file:line) and per source file, top N.
 *
 *   npx tsx test/bench/prof-summary.ts DIR/herald-cold.cpuprofile [N]
 *
 * Test tooling, no RFC behaviour of its own.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Self time in ms per node id, from the sample stream. */
function selfTimes(p: Profile): Map<number, number> {
  const out = new Map<number, number>();
  const s = p.samples ?? [];
  const d = p.timeDeltas ?? [];
  for (let i = 0; i < s.length; i++) {
    // Each delta is the time before sample i; charge it to the sample that follows.
    const dt = (d[i + 1] ?? 0) / 1000;
    out.set(s[i]!, (out.get(s[i]!) ?? 0) + dt);
  }
  return out;
}

function main(): void {
  const file = process.argv[2];
  const top = Number(process.argv[3] ?? 25);
  if (!file) throw new Error('usage: prof-summary.ts FILE.cpuprofile [N]');
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const self = selfTimes(p);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const ms = self.get(n.id) ?? 0;
    if (ms === 0) continue;
    total += ms;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const where = url ? relative(process.cwd(), url) : '(native)';
    const fn = `${n.callFrame.functionName || '(anonymous)'}  ${where}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + ms);
    byFile.set(where, (byFile.get(where) ?? 0) + ms);
  }
  const show = (title: string, m: Map<string, number>): void => {
    console.log(`\n${title}`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${v.toFixed(0).padStart(7)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
    }
  };
  console.log(`${file}: ${(total / 1000).toFixed(2)} s sampled (wall ${((p.endTime - p.startTime) / 1e6).toFixed(2)} s)`);
  show('self time by function', byFn);
  show('self time by file', byFile);
}

main();
