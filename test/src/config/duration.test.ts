import { describe, expect, it } from 'vitest';
import { DURATION_PATTERN, formatDuration, parseDuration } from '../../../src/config/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['0s', 0],
    ['1m30s250ms', 90_250],
    [9, 9000],
    [0.25, 250],
    ['9', 9000],
  ] as const)('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([
    ['2ss', 'expected a duration like 500ms or 2s, got "2ss" (write 2s)'],
    ['5 seconds', 'expected a duration like 500ms or 2s, got "5 seconds" (write 5s)'],
    ['2 min', 'expected a duration like 500ms or 2s, got "2 min" (write 2m)'],
    ['1h 30m', 'expected a duration like 500ms or 2s, got "1h 30m" (write 1h30m)'],
    ['2S', 'expected a duration like 500ms or 2s, got "2S" (write 2s)'],
    ['fast', 'expected a duration like 500ms or 2s, got "fast"'],
    ['-2s', 'expected a duration like 500ms or 2s, got "-2s"'],
    ['', 'expected a duration like 500ms or 2s, got ""'],
    ['0.5ms', 'expected a duration like 500ms or 2s, got "0.5ms" (finer than 1ms)'],
    [-1, 'expected a duration like 500ms or 2s, got -1 (durations cannot be negative)'],
    [true, 'expected a duration like 500ms or 2s, got true'],
  ] as const)('%j is refused: %s', (text, reason) => {
    expect(parseDuration(text)).toEqual({ ok: false, reason });
  });

  it('the published pattern accepts exactly the strings parseDuration accepts (sampled)', () => {
    const re = new RegExp(DURATION_PATTERN);
    for (const s of ['500ms', '2s', '1h30m', '9', '1.5s', '2ss', '5 seconds', 'x', '-1s', '1h 30m'])
      expect(re.test(s), s).toBe(parseDuration(s).ok);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [2000, '2s'],
    [90_250, '1m30s250ms'],
    [5_400_000, '1h30m'],
  ])('%i ms is %s and parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });
});
