/**
 * Small helpers every check kind shares: timing, error text, and resolving a
 * probe exactly once whether it finishes, fails or is aborted.
 */
import type { CheckResult } from '../types.js';

/** Milliseconds since `t0` (performance.now()), rounded to 0.1 ms. */
export function since(t0: number): number {
  return Math.round((performance.now() - t0) * 10) / 10;
}

/** Describe an error in a few words: message plus errno code when there is one. */
export function errText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
  }
  return String(e);
}

/** "[2001:db8::1]:53" or "192.0.2.1:53". */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Run a probe body that calls `done` once; an abort of `signal` resolves with
 * `onAbort(elapsedMs)` and calls `cleanup`. Later calls to `done` are ignored.
 */
export function settleOnce(
  signal: AbortSignal,
  onAbort: (elapsedMs: number) => Omit<CheckResult, 'latencyMs'>,
  body: (done: (r: Omit<CheckResult, 'latencyMs'>) => void, t0: number) => () => void,
): Promise<CheckResult> {
  return new Promise<CheckResult>((resolve) => {
    const t0 = performance.now();
    let settled = false;
    let cleanup: (() => void) | undefined;
    const finish = (r: Omit<CheckResult, 'latencyMs'>): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', abort);
      try {
        cleanup?.();
      } catch {
        // cleanup is best effort (closing an already closed socket)
      }
      resolve({ ...r, latencyMs: since(t0) });
    };
    const abort = (): void => finish(onAbort(since(t0)));
    if (signal.aborted) {
      abort();
      return;
    }
    signal.addEventListener('abort', abort, { once: true });
    try {
      cleanup = body(finish, t0);
    } catch (e) {
      finish({ ok: false, detail: errText(e) });
      return;
    }
    if (settled) cleanup?.();
  });
}
