/**
 * `herald` command line: `herald run --config F` runs the daemon,
 * `herald check --config F` validates a config, prints the effective
 * configuration with every default filled in (passwords redacted), and
 * prints warnings — settings that are valid but cannot do what they seem to
 * (src/config/warnings.ts) — on stderr.
 *
 * Under systemd (Type=notify) `run` sends READY=1 once the BGP listener and
 * the control API are up, and STOPPING=1 when a stop signal arrives.
 *
 * Exit codes: 0 ok (warnings alone do not fail a check, so a unit's
 * `ExecStartPre=herald check` still starts); 1 the config is invalid or the
 * daemon failed; 3 `check --strict` found warnings; 64 usage (EX_USAGE); 75
 * after a planned restart (SIGUSR2), which systemd's RestartForceExitStatus
 * starts again at once.
 */
import { startEngineThread } from '../bgp/index.js';
import { EXIT_USAGE, parseCommandLine } from './cli/args.js';
import { heraldVersion } from './version.js';
import { sdNotify, takeNotifySocket } from './sd-notify.js';

/** `check --strict` with warnings. */
export const EXIT_WARNINGS = 3;

export const USAGE = `usage: herald run   [--config FILE] [--restart]
       herald check [--config FILE] [--json] [--strict] [--offline]
       herald --help | --version

  run       run the daemon
  check     validate the config, print it with every default filled in, and
            print warnings (settings that cannot do what they seem to) on stderr

  -c, --config FILE   the config (default /etc/herald/herald.yaml)
      --json          check: print the effective config as JSON, not YAML
      --strict        check: exit ${EXIT_WARNINGS} when there are warnings (default: exit 0)
      --offline       check: skip the warnings that read this host's addresses
                      and routes (for a config checked on another machine)
      --restart       run: this start follows a planned restart (Graceful Restart,
                      RFC 4724): each service's first check decides its state and
                      End-of-RIB waits for it
  -h, --help          this text
  -V, --version       print the version

exit: 0 ok, 1 invalid config or the daemon failed, ${EXIT_WARNINGS} warnings with --strict, ${EXIT_USAGE} usage
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  strict: { type: 'boolean' },
  offline: { type: 'boolean' },
  restart: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/** Run the herald command line with the given arguments; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let values: { config?: string; json?: boolean; strict?: boolean; offline?: boolean; restart?: boolean; help?: boolean; version?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandLine(argv, OPTIONS, true));
  } catch (e) {
    return usage((e as Error).message);
  }
  const [cmd, ...extra] = positionals;
  if (values.help || cmd === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version || cmd === 'version') {
    process.stdout.write(`herald ${await heraldVersion()}\n`);
    return 0;
  }
  if (!cmd) return usage('no command given');
  if (extra.length) return usage(`unexpected argument '${extra[0]}'`);
  if (cmd !== 'check' && (values.json || values.strict || values.offline)) {
    return usage(`--${values.json ? 'json' : values.strict ? 'strict' : 'offline'} is an option of herald check`);
  }
  if (cmd !== 'run' && values.restart) return usage('--restart is an option of herald run');
  const configPath = values.config ?? '/etc/herald/herald.yaml';
  switch (cmd) {
    case 'check':
      return check(configPath, values);
    case 'run': {
      // Before any exec check can start: they must not inherit NOTIFY_SOCKET.
      takeNotifySocket();
      // The session engine's thread boots (its own Node environment: the
      // longest step before the first OPEN) while this thread loads the
      // daemon and reads the config (decision 0038).
      const engineThread = startEngineThread();
      // Loaded only here (and in check), so --help and --version answer at once.
      const [{ Daemon }, { ConfigError }] = await Promise.all([import('./daemon.js'), import('./config/errors.js')]);
      const d = new Daemon(configPath, undefined, { restart: values.restart === true, engineThread });
      // Installed before start(): a signal during start is held until it finishes.
      d.installSignalHandlers();
      try {
        await d.start();
      } catch (e) {
        void engineThread.worker.terminate();
        if (e instanceof ConfigError) return reportConfigError(e);
        process.stderr.write(`herald: cannot start: ${(e as Error).message}\n`);
        return 1;
      }
      notify(d, `READY=1\nSTATUS=running with ${configPath}`);
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => notify(d, 'STOPPING=1'));
      await d.stopped;
      return d.exitCode;
    }
    default:
      return usage(`unknown command '${cmd}'`);
  }
}

/** `herald check`: the effective config on stdout, warnings on stderr. */
async function check(configPath: string, o: { json?: boolean; strict?: boolean; offline?: boolean }): Promise<number> {
  // yaml comes through the config module: a bundled CommonJS package has no named exports when imported dynamically.
  const [{ configWarnings, effectiveConfig, formatWarning, loadConfigWithLocator, toYaml: stringify }, { readHostFacts }] = await Promise.all([
    import('./config/index.js'),
    import('./host/interfaces.js'),
  ]);
  try {
    const { config, locate } = await loadConfigWithLocator(configPath);
    const eff = effectiveConfig(config);
    process.stdout.write(o.json ? `${JSON.stringify(eff, null, 2)}\n` : stringify(eff));
    const warnings = configWarnings(config, o.offline ? null : await readHostFacts());
    for (const w of warnings) process.stderr.write(`${formatWarning(configPath, w, locate)}\n`);
    if (warnings.length) {
      process.stderr.write(`herald: ${warnings.length} warning${warnings.length > 1 ? 's' : ''}; the config is valid and herald will run with it\n`);
    }
    return o.strict && warnings.length ? EXIT_WARNINGS : 0;
  } catch (e) {
    return reportConfigError(e);
  }
}

/** Tell systemd (when it started us with Type=notify); a failure is logged, never fatal. */
function notify(d: { log: { warn(o: object, msg: string): void } }, state: string): void {
  try {
    sdNotify(state);
  } catch (e) {
    d.log.warn({ err: (e as Error).message }, 'cannot notify systemd');
  }
}

function usage(message: string): number {
  process.stderr.write(`herald: ${message}\n${USAGE}`);
  return EXIT_USAGE;
}

/** A ConfigError's message is its file:line:column lines; anything else gets the command's name. */
function reportConfigError(e: unknown): number {
  process.stderr.write((e as Error).name === 'ConfigError' ? `${(e as Error).message}\n` : `herald: ${(e as Error).message}\n`);
  return 1;
}
