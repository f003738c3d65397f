/**
 * A secret from the config (a peer's TCP MD5 password). It prints as
 * "<redacted>" through every path a value usually leaks by: String(),
 * template strings, JSON.stringify, util.inspect / console.log and pino. Code
 * that really needs the text (the speaker's MD5 key) calls `reveal()`.
 */
import { inspect } from 'node:util';

export const REDACTED = '<redacted>';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** Return the secret text; only for handing to the code that uses it. */
  reveal(): string {
    return this.#value;
  }

  /** Compare two secrets (either may be absent) without exposing either. */
  static same(a: Secret | undefined, b: Secret | undefined): boolean {
    if (a === undefined || b === undefined) return a === b;
    return a.#value === b.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
