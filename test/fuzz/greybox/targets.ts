/**
 * The greybox fuzzer's targets by name, and how a crash of each is written
 * down so that test/fuzz/crashers.test.ts replays it.
 */
import { crasherText } from '../fuzz-support.js';
import type { Crash, Target } from './engine.js';
import { ctxFlags, decodeTarget } from './decode-target.js';
import { pipelineTarget } from './pipeline-target.js';

export const targets: Record<string, Target> = {
  decode: decodeTarget,
  pipeline: pipelineTarget,
};

/** A crasher file (test/fuzz/fuzz-support.ts format) for a crash of `target`. */
export function crashFile(target: string, c: Crash): string {
  const comment = c.error
    .split('\n')
    .slice(0, 6)
    .map((l) => `# ${l}`)
    .join('\n');
  if (target === 'decode') return `${comment}\n${crasherText('decode', ctxFlags(c.input[0] ?? 0), c.input.subarray(1))}`;
  // Other targets keep the whole input (flags octet included); crashers.test.ts replays pipeline ones.
  return `${comment}\ntarget: ${target}\n${Buffer.from(c.input).toString('hex')}\n`;
}
