/**
 * Command-line parsing shared by `herald` and `routes`: node:util parseArgs
 * with herald's own messages for the mistakes people make ("unknown option
 * '--verbose'"), never Node's text about positional arguments and `--`.
 * Callers print the message with their usage text and exit 64 (EX_USAGE,
 * sysexits.h), the code both commands use for a usage error.
 * No RFC.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** EX_USAGE from sysexits.h: the command was used incorrectly. */
export const EXIT_USAGE = 64;

/** A usage mistake; `message` is ready to print after "herald: " or "routes: ". */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parse `args` strictly; throws UsageError with herald's wording. */
export function parseCommandLine<O extends Options>(args: string[], options: O, allowPositionals: boolean) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(usageMessage(e as Error & { code?: string }, options));
  }
}

/** Turn one of parseArgs' errors into a short sentence naming the option. */
function usageMessage(e: Error & { code?: string }, options: Options): string {
  const quoted = /'([^']*)'/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${quoted}'`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // "-s, --socket <value>" or "--json": name the long form.
      const long = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
      const spec = options[long.replace(/^--/, '')];
      return spec?.type === 'boolean' ? `option ${long} takes no value` : `option ${long} needs a value`;
    }
    default:
      return e.message;
  }
}
