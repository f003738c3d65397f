/**
 * A seeded PRNG for tests, so a failing random case repeats from its seed:
 * the session timers' mulberry32 (bgp/session/timers.ts nextRandom) as a
 * function that returns the next value in [0, 1) at each call.
 */
import { nextRandom } from '../../bgp/session/timers.js';

export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const [value, next] = nextRandom(state);
    state = next;
    return value;
  };
}
