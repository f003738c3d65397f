/**
 * `herald` command line: `herald run --config F` runs the daemon,
 * `herald check --config F` validates a config and prints the effective
 * configuration with every default filled in (passwords redacted).
 *
 * Under systemd (Type=notify) `run` sends READY=1 once the BGP listener and
 * the control API are up, and STOPPING=1 when a stop signal arrives.
 *
 * Exit codes: 0 ok; 1 the config is invalid or the daemon failed; 2 usage.
 */
import { parseArgs } from 'node:util';
import { ConfigError, effectiveConfig, loadConfig } from './config/index.js';
import { stringify } from 'yaml';
import { sdNotify, takeNotifySocket } from './sd-notify.js';

const USAGE = `usage: herald run   --config /etc/herald/herald.yaml [--restart]
       herald check --config /etc/herald/herald.yaml [--json]

  --restart   this start follows a planned restart (Graceful Restart, RFC 4724):
              the first check of each service decides its state, End-of-RIB waits for it`;

/** Run the herald command line with the given arguments; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  let values: { config?: string; json?: boolean; help?: boolean; restart?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, restart: { type: 'boolean' } },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`herald: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!cmd || values.help || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd ? 0 : 2;
  }
  const configPath = values.config ?? '/etc/herald/herald.yaml';
  switch (cmd) {
    case 'check': {
      try {
        const c = await loadConfig(configPath);
        const eff = effectiveConfig(c);
        process.stdout.write(values.json ? `${JSON.stringify(eff, null, 2)}\n` : stringify(eff));
        return 0;
      } catch (e) {
        return reportConfigError(e);
      }
    }
    case 'run': {
      // Before any exec check can start: they must not inherit NOTIFY_SOCKET.
      takeNotifySocket();
      const { Daemon } = await import('./daemon.js');
      const d = new Daemon(configPath, undefined, { restart: values.restart === true });
      try {
        await d.start();
      } catch (e) {
        if (e instanceof ConfigError) return reportConfigError(e);
        process.stderr.write(`herald: cannot start: ${(e as Error).message}\n`);
        return 1;
      }
      d.installSignalHandlers();
      notify(d, `READY=1\nSTATUS=running with ${configPath}`);
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => notify(d, 'STOPPING=1'));
      await d.stopped;
      return d.exitCode;
    }
    default:
      process.stderr.write(`herald: unknown command '${cmd}'\n${USAGE}\n`);
      return 2;
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

function reportConfigError(e: unknown): number {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  process.stderr.write(`herald: ${(e as Error).message}\n`);
  return 1;
}
