/**
 * The herald daemon: config → speaker + sources → reconciler → peers.
 *
 * Owns the process lifecycle an operator sees:
 * - start: load and validate the config (a bad one refuses to start, with
 *   file:line errors), start the BGP speaker and the health checks, announce.
 * - reload (SIGHUP): load the new config; if it is invalid, log every error
 *   and keep running on the old one. Otherwise apply it without resetting
 *   sessions whose peer settings did not change: peers are added, removed or
 *   updated one by one (bgp/driver/speaker.ts decides whether an update needs
 *   a session reset), services and static routes are replaced, and the
 *   reconciler sends only the difference.
 * - drain (`routes drain`, and first step of SIGTERM): announce the service's
 *   prefixes with GRACEFUL_SHUTDOWN (RFC 8326) for drain.period, then withdraw.
 *   A drain asked for through the API is kept in the state directory
 *   (state_dir/drain.json) and restored at the next start, so a restart does
 *   not silently undrain the host; `routes undrain` clears it.
 * - stop (SIGTERM/SIGINT): drain every service, withdraw everything, then
 *   Cease/Administrative Shutdown with the configured message (RFC 9003),
 *   then remove the service addresses herald added (host_addresses: add).
 *   This drain is not kept: the next start announces by health.
 * - planned restart (SIGTERM with graceful_restart.on_stop: restart, or
 *   SIGUSR2 always): stop without withdrawing, so routers with Graceful
 *   Restart keep our routes for the restart time (RFC 4724 §4.2), leaving a
 *   marker beside the API socket. The next process (the marker, or
 *   `herald run --restart`) sets the Restart State bit, lets each service's
 *   first check decide its state, and sends End-of-RIB only once every
 *   service has had that check (decision 0024).
 * - warnings (src/config/warnings.ts): logged at start and on reload, kept
 *   for `routes explain` and the multihop hint on a failed connect.
 *
 * The BGP sessions run in the session engine's thread (decision 0020); this
 * thread talks to them through the Engine contract only.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EngineClient, after, realClock, type Clock, type Engine, type EngineThread, type PeerAction, type PeerActionResult, type PeerConfig, type SpeakerEvent, type SpeakerOptions } from '../bgp/index.js';
// Not config/index.js: the daemon reaches the parser only through load.ts, which drops it after each read (decision 0050).
import { ConfigError, formatPath } from './config/errors.js';
import { configWarnings, type ConfigWarning } from './config/warnings.js';
import { diffConfig } from './config/diff.js';
import { loadConfigWithLocator } from './config/load.js';
import { toPeerConfig } from './config/peer-config.js';
import type { Locate } from './config/parse.js';
import type { Config, ServiceConfig } from './config/types.js';
import { isLogLevel, LogOutput, makeLogger, type Logger } from './log.js';
import { readHostFacts } from './host/interfaces.js';
import { HostAddressManager } from './host/addresses.js';
import { readStateFile, writeStateFile } from './state-dir.js';
import { Reconciler } from './reconciler/index.js';
import { serviceGroups, serviceSource, staticGroups, type DrainPhase, type ServiceState } from './sources/intents.js';
import { HealthSource, ProbePacer, type Prober } from './sources/health/index.js';
import { adoptOrphans } from './host/orphans.js';
import { trimMalloc } from './host/libc.js';
import { MemoryTrim } from './host/memory-trim.js';
import { ApiStats, resolveOperators, startApiServer, type ApiServer, type Operators } from './api/server.js';
import { lxdEvent, peerEvent, serviceEvent, type StateEvent } from './state/index.js';
// Loaded only when the config asks for them (decision 0027): prom-client
// and the LXD client (ws) cost idle memory a host without them keeps.
import type { MetricsHandle } from './metrics.js';
import type { LxdSource } from './sources/lxd/index.js';

/** How long stop() waits for the withdrawals to be written before the Cease. */
const STOP_FLUSH_MS = 2_000;

/** What `herald run` was told about this start. */
export interface DaemonOptions {
  /** `herald run --restart`: this start follows a planned restart (as does a fresh marker file). */
  restart?: boolean;
  /**
   * Make the session engine in this thread instead of a worker (tests that
   * drive the daemon in-process pass `(o) => new Speaker(o)`). A factory, not
   * a flag: the daemon names no Speaker, so the bundle's main thread does not
   * load the sessions' code, which only the worker runs.
   */
  inlineEngine?: (options: SpeakerOptions) => Engine;
  /** The engine's thread, started before the daemon was loaded (`herald run`); default: started at start(). */
  engineThread?: EngineThread;
  /** The clock of every timer the daemon and its sources set (default the real clock; tests: a ManualClock). */
  clock?: Clock;
  /** Runs the services' check probes (default the real checks; tests: a fake). */
  prober?: Prober;
}

/** Exit code after a SIGUSR2 planned restart: systemd's RestartForceExitStatus=75 starts herald again at once. */
export const RESTART_EXIT_CODE = 75;

/** The marker a planned restart leaves beside the API socket, for the next process to find. */
export function restartMarkerPath(c: Config): string {
  return join(dirname(c.api.socket), 'herald.restart');
}

/** The drains kept across restarts, in state_dir. */
const DRAIN_FILE = 'drain.json';

/** What saving the drain state did: the file, and why it could not be written (null: it was). */
export interface DrainSaved {
  file: string;
  error: string | null;
}

export class Daemon {
  readonly configPath: string;
  config: Config | null = null;
  readonly log: Logger;
  /** The BGP session engine (decision 0020). */
  engine: Engine | null = null;
  readonly reconciler: Reconciler;
  /** The latest hand-off to the engine, and each peer's latest flushed one. */
  private handedSeq = 0;
  /** Gives glibc's free memory back some time after large hand-offs (decision 0047). */
  private readonly memoryTrim: MemoryTrim;
  private readonly flushed = new Map<string, number>();
  private readonly flushWaiters = new Set<() => void>();
  private reconcileScheduled = false;
  /** Services whose health changed since the last refresh (refreshed together, once per turn of the loop). */
  private readonly changedServices = new Set<string>();
  /** Services by name, for the config object `of`. */
  private servicesIndex: { of: Config | null; byName: Map<string, ServiceConfig> } = { of: null, byName: new Map() };
  health: HealthSource | null = null;
  /** Starts due health probes in bounded slices (src/sources/health/pacer.ts). */
  private readonly pacer = new ProbePacer();
  private readonly drains = new Map<string, { phase: DrainPhase; cancel?: () => void }>();
  private resolveStopped!: () => void;
  /** Resolves when the daemon has stopped. */
  readonly stopped: Promise<void>;
  private stopping = false;
  reloads = { ok: 0, failed: 0 };
  /** Wall-clock time the daemon object was created (for uptime). */
  readonly startedAt = Date.now();
  private api: ApiServer | null = null;
  /** The read-only socket (api.readonly_socket). */
  private apiReadOnly: ApiServer | null = null;
  /** The control API's counts (event clients), shared by both sockets. */
  readonly apiStats = new ApiStats();
  metrics: MetricsHandle | null = null;
  /** The LXD/Incus route source, when the config has an `lxd` section. */
  lxd: LxdSource | null = null;
  /** Why the configured LXD source could not start (shown by the API and `routes`); null otherwise. */
  lxdStartError: string | null = null;
  private readonly eventListeners = new Set<(e: StateEvent) => void>();
  /** The stream our own logger writes to (null when the caller gave a logger: its settings are the caller's). */
  private readonly logOutput: LogOutput | null;
  /** HERALD_LOG_LEVEL, which overrides logging.level when valid. */
  private readonly envLevel: string | null;
  /** The config's warnings, as of the last start or reload. */
  warnings: readonly ConfigWarning[] = [];
  /** Set while the warnings of a start or reload are being worked out. */
  private warningsRead: Promise<void> | null = null;
  /** Peers whose failed connect has had its multihop hint logged. */
  private readonly hinted = new Set<string>();
  /** Drains kept across restarts: service → ISO time drained. */
  private readonly keptDrains = new Map<string, string>();
  /** The last save of the drain state (null: none yet). */
  drainSaved: DrainSaved | null = null;
  /** The service addresses herald adds and removes (host_addresses: add). */
  private addresses: HostAddressManager | null = null;
  /** start() has finished. */
  private running = false;
  /** SIGTERM/SIGINT/SIGUSR2 that arrived during start(), acted on when it finishes. */
  private heldSignal: string | null = null;
  private readonly opts: DaemonOptions;
  /** The clock of the daemon's timers, its health checks and its LXD source. */
  readonly clock: Clock;
  /** True when this process started as a graceful restart (Restart State bit, first checks decide). */
  restarting = false;
  /** The exit code `herald run` returns once stopped. */
  exitCode = 0;

  constructor(configPath: string, log?: Logger, opts: DaemonOptions = {}) {
    this.configPath = configPath;
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    const env = process.env.HERALD_LOG_LEVEL;
    this.envLevel = env !== undefined && env !== '' && isLogLevel(env) ? env : null;
    this.logOutput = log ? null : new LogOutput(process.stdout);
    this.log = log ?? makeLogger(this.envLevel ?? 'info', this.logOutput!);
    if (env && this.envLevel === null) this.log.warn({ HERALD_LOG_LEVEL: env }, 'HERALD_LOG_LEVEL is not a level (trace, debug, info, warn, error, fatal, silent); ignored');
    this.memoryTrim = new MemoryTrim({
      clock: this.clock,
      trim: trimMalloc,
      report: (r) => this.log.debug({ ...r, rssMb: Math.round(process.memoryUsage.rss() / 1048576) }, 'gave free memory back to the kernel after a large hand-off'),
    });
    this.reconciler = new Reconciler({
      applyGroups: (ops, moved) => {
        if (!this.engine) return;
        this.handedSeq = this.engine.applyGroups(ops);
        let routes = 0;
        let removed = 0;
        for (const op of ops) {
          if (op.remove) removed++;
          else routes += op.prefixes.count;
        }
        this.log.info({ groups: ops.length - removed, removed, routes }, 'desired routes changed');
        this.memoryTrim.handedOff(moved);
      },
    });
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  /** Load the config and start everything; throws ConfigError for a bad config. */
  async start(): Promise<void> {
    const { config, locate } = await loadConfigWithLocator(this.configPath);
    this.config = config;
    this.applyLogging(config);
    // With Graceful Restart on any session a router may hold our routes from
    // before this start (a planned restart, or a crash): End-of-RIB waits for
    // every service's first check, so it flushes only what is really down.
    const grTimes = config.peers.filter((p) => !p.shutdown && p.gracefulRestartTime !== undefined).map((p) => p.gracefulRestartTime!);
    const marker = this.readRestartMarker(config);
    this.restarting = grTimes.length > 0 && (this.opts.restart === true || marker);
    const options = {
      asn: config.asn,
      routerId: config.routerId,
      listen: config.listen === false ? (false as const) : { address: config.listen.addresses, port: config.listen.port },
      logger: this.log,
      ...(grTimes.length > 0 ? { deferEndOfRib: true, restarting: this.restarting } : {}),
    };
    // The session engine runs in its own thread (decision 0020). It starts
    // first: nothing below is needed for the sessions to open, and the engine
    // announces nothing before the reconciler hands it routes, after the host
    // addresses are in place (decision 0041).
    const engine: Engine = this.opts.inlineEngine
      ? this.opts.inlineEngine(options)
      : new EngineClient({ ...options, ...(this.opts.engineThread ? { thread: this.opts.engineThread } : {}) });
    this.engine = engine;
    for (const p of config.peers) if (!p.shutdown) engine.addPeer(toPeerConfig(p));
    engine.on((e) => this.onEngineEvent(e));
    // The warnings read the host's addresses and routes (procfs, decision
    // 0045); nothing the sessions need, so they are worked out once the
    // engine has started. They are logged before "herald started", and a
    // connect failure that comes first waits for them (connectHint).
    const { warnings, begin: startWarnings } = this.warningsOnceStarted(config, locate);
    this.warningsRead = warnings;
    warnings.catch(() => {}); // awaited below, before "herald started": a failure fails start() there
    const engineStarted = engine.start();
    engineStarted.catch(() => {}); // awaited below
    let metricsModule: typeof import('./metrics.js') | null;
    try {
      this.restoreDrains(config);
      this.adoptCheckOrphans(config);
      this.addresses = new HostAddressManager({ stateDir: config.stateDir, log: this.log });
      // Before any check runs: a service with host_addresses: add must find its address in place.
      // Nothing is announced yet, so addresses left from a run before that no service wants go at once.
      await this.addresses.removeUnwanted(config.services);
      await this.addresses.addMissing(config.services);
      metricsModule = config.metrics ? await import('./metrics.js') : null;
      await engineStarted;
    } catch (e) {
      // A failed start (port 179 taken, no permission, a host address that
      // cannot be added) must not leave the engine thread running.
      const listenError = await engineStarted.then(
        () => null,
        (x: unknown) => x as NodeJS.ErrnoException,
      );
      await engine.stop().catch(() => {});
      this.engine = null;
      await this.addresses?.removeAll();
      throw listenError ? new Error(listenFailure(listenError, config)) : e;
    }
    startWarnings();
    this.reconciler.setSnapshot('static', staticGroups(config.static));
    this.startHealth(config.services, this.restarting);
    if (grTimes.length > 0) this.releaseEndOfRibAfterFirstChecks(Math.min(...grTimes) * 1000);
    // Before any await, so the metrics see the first health transitions.
    this.metrics = metricsModule ? await metricsModule.startMetrics(this, { log: this.log }) : null;
    this.reconcileNow();
    await this.startApi(config);
    await this.startLxd(config);
    await warnings;
    this.log.info(
      { peers: config.peers.length, services: config.services.length, static: config.static.length, config: this.configPath },
      'herald started',
    );
    this.running = true;
    if (this.heldSignal) this.onStopSignal(this.heldSignal);
  }

  /**
   * The config's warnings, worked out when `begin` is called. A method of its
   * own so that no closure of start() captures `locate`: V8 keeps one context
   * for all closures of a function, so the engine listener made in start()
   * kept `locate`, and through it the config parser, for the daemon's life
   * (found in a heap snapshot; decision 0050).
   */
  private warningsOnceStarted(config: Config, locate: Locate): { warnings: Promise<void>; begin: () => void } {
    let begin!: () => void;
    const warnings = new Promise<void>((r) => (begin = r)).then(() => this.checkWarnings(config, locate));
    return { warnings, begin };
  }

  /** Take logging.level and logging.format from the config (HERALD_LOG_LEVEL wins over the level). */
  private applyLogging(c: Config): void {
    if (!this.logOutput) return;
    this.log.level = this.envLevel ?? c.logging.level;
    this.logOutput.format = c.logging.format;
  }

  /** Work out the config's warnings against this host, log each, and keep them for the API. */
  private async checkWarnings(c: Config, locate: Locate): Promise<void> {
    try {
      await this.readWarnings(c, locate);
    } finally {
      this.warningsRead = null;
    }
  }

  private async readWarnings(c: Config, locate: Locate): Promise<void> {
    let facts = null;
    try {
      facts = await readHostFacts();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "cannot read this host's addresses; warnings that need them are skipped");
    }
    this.warnings = configWarnings(c, facts);
    this.hinted.clear();
    for (const w of this.warnings) {
      const at = locate(w.path);
      this.log.warn({ code: w.code, at: `${c.file}:${at.line}:${at.column}`, path: formatPath(w.path) }, `config warning: ${w.message}`);
    }
  }

  /** Name `multihop` when a connect to a peer that is not on a connected network fails with EHOSTUNREACH (once per peer). */
  private connectHint(peer: string, error: string): void {
    if (!/EHOSTUNREACH|ENETUNREACH/.test(error) || this.hinted.has(peer)) return;
    if (this.warningsRead) {
      // The start's warnings are still being worked out: hint once they are.
      void this.warningsRead.then(
        () => this.connectHint(peer, error),
        () => {}, // start() reports the failure
      );
      return;
    }
    const w = this.warnings.find((x) => x.code === 'needs-multihop' && x.peer === peer);
    if (!w) return;
    this.hinted.add(peer);
    this.log.warn({ peer, err: error }, `connect failed: ${w.message}`);
  }

  private onEngineEvent(e: SpeakerEvent): void {
    if (e.type === 'connect-failed') this.connectHint(e.peer, e.error);
    if (e.type === 'flushed') {
      this.flushed.set(e.peer, e.seq);
      for (const w of [...this.flushWaiters]) w();
      return;
    }
    if (e.type === 'down' || e.type === 'state') for (const w of [...this.flushWaiters]) w();
    this.emitEvent(peerEvent(e));
  }

  /**
   * Resolve true once every Established peer has flushed everything handed
   * to the engine so far (false after `timeoutMs`). Event-driven: each
   * `flushed` or session change wakes it; nothing polls.
   */
  waitFlushed(timeoutMs: number): Promise<boolean> {
    const target = this.handedSeq;
    const done = (): boolean =>
      (this.engine?.snapshot() ?? []).every((p) => p.state !== 'Established' || (this.flushed.get(p.name) ?? 0) >= target);
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        finish(true);
      };
      const finish = (ok: boolean): void => {
        this.flushWaiters.delete(check);
        cancel();
        resolve(ok);
      };
      const cancel = after(this.clock, timeoutMs, () => finish(done()));
      this.flushWaiters.add(check);
    });
  }

  private startHealth(services: readonly ServiceConfig[], firstRoundDecides = false): void {
    // One pacer for every service: a round of ten thousand probes due at once starts in slices.
    const h = new HealthSource(services, { clock: this.clock, launch: this.pacer.admit, ...(this.opts.prober ? { prober: this.opts.prober } : {}), ...(firstRoundDecides ? { firstRoundDecides } : {}) });
    this.health = h;
    h.on('change', (t) => {
      this.log.info({ service: t.service, from: t.from, to: t.to, reason: t.reason }, 'service health changed');
      this.emitEvent(serviceEvent(t));
      // Many services changing in one turn of the loop (a shared backend
      // failing) are refreshed and reconciled together, once.
      this.changedServices.add(t.service);
      this.scheduleReconcile();
    });
    h.start();
    this.refreshServices();
  }

  /**
   * Re-derive the named services' groups (all when omitted) from their
   * health and drain state. Each service is a reconciler source of its own,
   * so a change costs that service's work only — found by name and read
   * from its own state machine, never from a snapshot of every service
   * (10,000 services changing in one round would otherwise cost 10,000²);
   * many changes in one turn of the event loop share one reconcile.
   */
  private refreshServices(names?: Iterable<string>, schedule = true): void {
    const c = this.config;
    const h = this.health;
    if (!c || !h) return;
    if (names === undefined) for (const s of c.services) this.refreshService(s, h);
    else {
      for (const n of names) {
        const s = this.serviceConfig(n);
        if (s) this.refreshService(s, h);
      }
    }
    if (schedule) this.scheduleReconcile();
  }

  private refreshService(s: ServiceConfig, h: HealthSource): void {
    const st = (h.service(s.name)?.state ?? 'down') as ServiceState;
    this.reconciler.setSnapshot(serviceSource(s.name), serviceGroups(s, st, this.drains.get(s.name)?.phase ?? null));
  }

  /** A configured service by name (the index follows the config object a reload replaces). */
  private serviceConfig(name: string): ServiceConfig | undefined {
    const c = this.config;
    if (!c) return undefined;
    if (this.servicesIndex.of !== c) this.servicesIndex = { of: c, byName: new Map(c.services.map((s) => [s.name, s])) };
    return this.servicesIndex.byName.get(name);
  }

  /** Reconcile once, at the end of this turn of the event loop. */
  private scheduleReconcile(): void {
    if (this.reconcileScheduled) return;
    this.reconcileScheduled = true;
    setImmediate(() => {
      this.reconcileScheduled = false;
      this.reconcileNow();
    });
  }

  /** Refresh the services whose health changed, then reconcile. */
  private reconcileNow(): void {
    if (!this.engine) return;
    if (this.changedServices.size > 0) {
      const names = [...this.changedServices];
      this.changedServices.clear();
      this.refreshServices(names, false);
    }
    this.reconciler.reconcile();
  }

  /** Apply a new config without touching sessions that did not change; keeps the old state on error. */
  async reload(): Promise<{ ok: true } | { ok: false; errors: string[] }> {
    let next: Config;
    let locate: Locate;
    try {
      ({ config: next, locate } = await loadConfigWithLocator(this.configPath));
    } catch (e) {
      this.reloads.failed++;
      const errors = e instanceof ConfigError ? e.issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.path}: ${i.message}`) : [(e as Error).message];
      this.log.error({ errors }, 'reload refused: the new config is invalid; still running the previous one');
      this.emitEvent({ type: 'reload', at: new Date().toISOString(), ok: false, errors });
      return { ok: false, errors };
    }
    const old = this.config!;
    const sp = this.engine!;
    const d = diffConfig(old, next);
    this.applyLogging(next);
    await this.checkWarnings(next, locate);
    if (
      old.asn !== next.asn ||
      old.routerId !== next.routerId ||
      JSON.stringify(old.listen) !== JSON.stringify(next.listen) ||
      old.stateDir !== next.stateDir
    ) {
      this.log.warn({}, 'asn, router_id, listen and state_dir changes take effect only after a restart; kept the running values');
    }
    const oldPeers = new Map(old.peers.map((p) => [p.name, p]));
    const newPeers = new Map(next.peers.map((p) => [p.name, p]));
    for (const [name, p] of oldPeers) {
      if (!newPeers.has(name) || (!p.shutdown && newPeers.get(name)!.shutdown)) await sp.removePeer(name);
    }
    for (const [name, p] of newPeers) {
      if (p.shutdown) continue;
      const pc: PeerConfig = toPeerConfig(p);
      const before = oldPeers.get(name);
      if (!before || before.shutdown) {
        sp.addPeer(pc);
        continue;
      }
      const r = await sp.updatePeer(pc);
      if (r !== 'unchanged') this.log.info({ peer: name, result: r }, 'peer settings changed');
    }
    // state_dir is read at start only (the warning above); the rest of the new config applies.
    this.config = old.stateDir === next.stateDir ? next : { ...next, stateDir: old.stateDir };
    await this.addresses?.addMissing(next.services);
    this.reconciler.setSnapshot('static', staticGroups(next.static));
    const kept = new Set(next.services.map((s) => s.name));
    for (const s of old.services) if (!kept.has(s.name)) this.reconciler.removeSource(serviceSource(s.name));
    // Services whose checks did not change keep running with their state.
    this.adoptCheckOrphans(next);
    this.health?.update(next.services);
    if (JSON.stringify(old.lxd) !== JSON.stringify(next.lxd)) {
      // The LXD source holds no state worth keeping across a settings change:
      // a fresh one re-reads the API at once.
      await this.lxd?.stop();
      this.lxd = null;
      this.reconciler.removeSource('lxd');
      await this.startLxd(next);
    }
    this.refreshServices();
    this.pruneKeptDrains(next);
    if (this.addresses?.hasUnwanted(next.services)) {
      // A removed service's address goes only after its withdrawal has left.
      this.reconcileNow();
      await this.waitFlushed(STOP_FLUSH_MS);
      await this.addresses.removeUnwanted(next.services);
    }
    this.reloads.ok++;
    this.emitEvent({ type: 'reload', at: new Date().toISOString(), ok: true, errors: [] });
    this.log.info({ added: d.peers.added, removed: d.peers.removed, changed: d.peers.changed.map((c) => c.name) }, 'config reloaded');
    return { ok: true };
  }

  /**
   * Drain services (all when names is empty): GRACEFUL_SHUTDOWN for the
   * drain period, then withdraw. With `persist` (an operator's drain through
   * the API) the drain is kept in state_dir and restored at the next start;
   * `drainSaved` says where, or why it could not be written.
   */
  drain(names: string[] = [], opts: { persist?: boolean } = {}): Promise<void> {
    const c = this.config!;
    const targets = names.length ? c.services.filter((s) => names.includes(s.name)) : c.services;
    const period = c.drain.periodMs;
    for (const s of targets) {
      this.drains.get(s.name)?.cancel?.();
      this.drains.set(s.name, { phase: period > 0 ? 'graceful-shutdown' : 'withdrawn' });
    }
    if (opts.persist) {
      const at = new Date().toISOString();
      for (const s of targets) if (!this.keptDrains.has(s.name)) this.keptDrains.set(s.name, at);
      this.saveDrains();
    }
    this.log.info({ services: targets.map((s) => s.name), periodMs: period }, 'draining');
    this.refreshServices();
    const drained = targets.map((s) => s.name);
    this.emitEvent({ type: 'drain', at: new Date().toISOString(), services: drained, phase: period > 0 ? 'graceful-shutdown' : 'withdrawn' });
    if (period <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const cancel = after(this.clock, period, () => {
        for (const s of targets) this.drains.set(s.name, { phase: 'withdrawn' });
        this.refreshServices();
        this.emitEvent({ type: 'drain', at: new Date().toISOString(), services: drained, phase: 'withdrawn' });
        resolve();
      });
      for (const s of targets) this.drains.set(s.name, { phase: 'graceful-shutdown', cancel });
    });
  }

  /** End a drain: services announce again according to their health; a kept drain is cleared from state_dir. */
  undrain(names: string[] = []): void {
    const keys = names.length ? names : [...new Set([...this.drains.keys(), ...this.keptDrains.keys()])];
    for (const k of keys) {
      this.drains.get(k)?.cancel?.();
      this.drains.delete(k);
    }
    if (keys.some((k) => this.keptDrains.delete(k))) this.saveDrains();
    this.refreshServices();
    this.emitEvent({ type: 'undrain', at: new Date().toISOString(), services: keys });
  }

  /** Restore the drains kept in state_dir: those services start withdrawn. A bad file is logged and ignored. */
  private restoreDrains(c: Config): void {
    const r = readStateFile(c.stateDir, DRAIN_FILE, (v) => {
      const drained = (v as { drained?: unknown })?.drained;
      if (typeof drained !== 'object' || drained === null || Array.isArray(drained) || !Object.values(drained).every((x) => typeof x === 'string')) {
        return 'expected {"version": 1, "drained": {"SERVICE": "ISO time", ...}}';
      }
      return drained as Record<string, string>;
    });
    if (r.error) {
      this.log.error({ err: r.error }, 'the drain state file is unreadable or corrupt; ignored: no service starts drained');
      return;
    }
    const names = new Set(c.services.map((s) => s.name));
    const restored: string[] = [];
    for (const [name, at] of Object.entries(r.value ?? {})) {
      this.keptDrains.set(name, at);
      if (!names.has(name)) continue;
      this.drains.set(name, { phase: 'withdrawn' });
      restored.push(name);
    }
    if (restored.length) {
      this.log.warn({ services: restored, file: `${c.stateDir}/${DRAIN_FILE}` }, "drain restored from the state directory: these services stay withdrawn until 'routes undrain'");
    }
    this.pruneKeptDrains(c);
  }

  /** Forget kept drains of services the config no longer has (logged). */
  private pruneKeptDrains(c: Config): void {
    const names = new Set(c.services.map((s) => s.name));
    const gone = [...this.keptDrains.keys()].filter((n) => !names.has(n));
    if (gone.length === 0) return;
    for (const n of gone) this.keptDrains.delete(n);
    this.log.warn({ services: gone }, 'kept drains of services no longer configured are forgotten');
    this.saveDrains();
  }

  /** Write the kept drains to state_dir atomically; a failure is logged and reported in drainSaved. */
  private saveDrains(): void {
    const dir = this.config!.stateDir;
    const file = `${dir}/${DRAIN_FILE}`;
    try {
      writeStateFile(dir, DRAIN_FILE, { version: 1, drained: Object.fromEntries(this.keptDrains) });
      this.drainSaved = { file, error: null };
    } catch (e) {
      const error = (e as Error).message;
      this.drainSaved = { file, error };
      this.log.error({ file, err: error }, 'cannot save the drain state: the drain holds until herald restarts, not beyond');
    }
  }

  /** The drain phase of one service (null when not drained). */
  drainPhase(service: string): DrainPhase {
    return this.drains.get(service)?.phase ?? null;
  }

  /** Subscribe to state changes (peer, service, reload, drain, lxd) for the control API; returns the unsubscribe. */
  onEvent(fn: (e: StateEvent) => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  private emitEvent(e: StateEvent): void {
    for (const fn of this.eventListeners) {
      try {
        fn(e);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'event listener failed');
      }
    }
  }

  /** Serve the control API on api.socket; a failure is logged, not fatal (BGP keeps running). */
  /** Start the LXD source when configured; a missing socket is logged, BGP keeps running. */
  private async startLxd(config: Config): Promise<void> {
    this.lxdStartError = null;
    if (!config.lxd) return;
    try {
      const { lxdSourceFromConfig } = await import('./sources/lxd/config.js');
      this.lxd = lxdSourceFromConfig(
        config.lxd,
        (groups) => {
          this.reconciler.setSnapshot('lxd', groups);
          this.scheduleReconcile();
        },
        this.log,
        {
          clock: this.clock,
          onStatus: (change, st) => this.emitEvent(lxdEvent(change, st)),
          // An instance event hands over its instance's groups alone: the reconciler's run costs that instance, not the deployment.
          patch: (put, drop) => {
            this.reconciler.patchSnapshot('lxd', put, drop);
            this.scheduleReconcile();
          },
        },
      );
      await this.lxd.start();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'cannot start the LXD source; routes from LXD are not announced');
      this.lxd = null;
      this.lxdStartError = (e as Error).message;
    }
  }

  private async startApi(config: Config): Promise<void> {
    const a = config.api;
    let operators: Operators | null = null;
    try {
      operators = a.operators ? await resolveOperators(a.operators) : null;
      this.api = await startApiServer(this, { socket: a.socket, mode: a.mode, group: a.group, handler: { operators, stats: this.apiStats } });
      this.log.info({ socket: a.socket, ...(operators ? { operators: operators.text } : {}) }, 'control API listening');
    } catch (e) {
      this.log.error({ socket: a.socket, err: (e as Error).message }, 'control API not started; routes CLI will not reach this daemon');
    }
    if (a.readonlySocket === null) return;
    try {
      this.apiReadOnly = await startApiServer(this, {
        socket: a.readonlySocket,
        mode: a.readonlyMode,
        group: a.group,
        handler: { readOnly: true, operatorSocket: a.socket, stats: this.apiStats },
      });
      this.log.info({ socket: a.readonlySocket, mode: `0${a.readonlyMode.toString(8)}` }, 'read-only control API listening');
    } catch (e) {
      this.log.error({ socket: a.readonlySocket, err: (e as Error).message }, 'read-only control API not started');
    }
  }

  private subreaper = false;

  /**
   * Before any exec check runs (at start, or a reload that adds the first):
   * herald becomes the child subreaper, so what a check daemonizes is
   * reparented to herald, found and reaped (decision 0033). Only then: it
   * loads koffi, which a host without exec checks need not (decision 0027).
   */
  private adoptCheckOrphans(config: Config): void {
    if (this.subreaper || !config.services.some((sv) => sv.checks.some((c) => c.kind === 'exec'))) return;
    this.subreaper = true;
    const r = adoptOrphans();
    if (r !== true) this.log.warn({ reason: r }, 'cannot become the subreaper of exec checks; what they daemonize is still killed, found by a scan of /proc');
  }

  /** Close both control sockets. */
  private async closeApi(): Promise<void> {
    await this.api?.close();
    await this.apiReadOnly?.close();
  }

  /** The API's counts for the state model (summary.api). */
  get apiCounts(): ApiStats {
    return this.apiStats;
  }

  /**
   * An operator's action on one peer (`routes peer NAME down|up|reset|refresh`).
   * Not kept across restarts: a peer taken down comes back when herald
   * starts again (as with bgpctl's `neighbor down` and birdc's `disable`);
   * `shutdown: true` in the config keeps one down for good.
   */
  async peerAction(name: string, action: PeerAction, message?: string): Promise<PeerActionResult> {
    if (!this.engine) throw new Error('the session engine is not running');
    const r = await this.engine.peerAction(name, action, message !== undefined ? { message } : {});
    this.log.info({ peer: name, action, changed: r.changed, refused: r.refused?.code ?? null, message: message ?? null }, `peer ${action} (operator)`);
    return r;
  }

  /**
   * Send End-of-RIB once every service has finished its first check round
   * (its routes are handed to the speaker by then), or after `boundMs` at the
   * latest — a router keeping our stale routes waits for it (RFC 4724 §4.2).
   */
  private releaseEndOfRibAfterFirstChecks(boundMs: number): void {
    const t0 = this.clock.now();
    let done = false;
    const release = (why: string): void => {
      if (done || this.stopping) return;
      done = true;
      cancel();
      this.reconcileNow();
      this.engine?.routesComplete();
      this.log.info({ why, ms: Math.round(this.clock.now() - t0), restarting: this.restarting }, 'routes complete: End-of-RIB released');
    };
    const cancel = after(this.clock, boundMs, () => release(`not every service finished its first check within ${boundMs} ms`), { unref: true });
    this.health?.onFirstRounds(() => release('every service has had its first check'));
  }

  /** Read and remove the marker of a planned restart; true when it is fresh (younger than its restart time). */
  private readRestartMarker(c: Config): boolean {
    const path = restartMarkerPath(c);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return false;
    }
    rmSync(path, { force: true });
    try {
      const m = JSON.parse(text) as { stoppedAt?: unknown; restartTime?: unknown };
      const age = Date.now() - Number(m.stoppedAt);
      const fresh = Number.isFinite(age) && age >= 0 && age <= Number(m.restartTime) * 1000;
      this.log.info({ marker: path, ageMs: age, fresh }, fresh ? 'starting after a planned restart' : 'ignoring a stale restart marker');
      return fresh;
    } catch {
      this.log.warn({ marker: path }, 'ignoring an unreadable restart marker');
      return false;
    }
  }

  /**
   * Planned restart (RFC 4724 §4.1): no drain, no withdrawal. Each session
   * with Graceful Restart ends so that the router keeps our routes as stale
   * for the restart time (no NOTIFICATION, or Cease/Administrative Reset when
   * the RFC 8538 N bit was exchanged); the rest get that Cease and flush.
   * Leaves the marker for the next process.
   */
  private async restartStop(reason: string): Promise<void> {
    const c = this.config;
    this.log.info({ reason }, 'planned restart: stopping without withdrawing');
    this.health?.stop();
    await this.lxd?.stop();
    if (c) {
      const restartTime = Math.max(0, ...c.peers.map((p) => p.gracefulRestartTime ?? 0));
      try {
        writeFileSync(restartMarkerPath(c), JSON.stringify({ stoppedAt: Date.now(), restartTime, pid: process.pid }) + '\n', { mode: 0o640 });
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'cannot leave the restart marker: start the next process with `herald run --restart`');
      }
    }
    const names = (this.engine?.snapshot() ?? []).map((p) => p.name);
    const keeping = (await this.engine?.stop('herald restarting', { graceful: true })) ?? [];
    const flushing = names.filter((n) => !keeping.includes(n));
    if (flushing.length > 0) this.log.warn({ peers: flushing }, 'planned restart: these peers have no Graceful Restart session and drop our routes now');
    this.log.info({ keeping }, 'planned restart: routers keep our routes for the restart time');
    await this.closeApi();
    await this.metrics?.close();
    this.memoryTrim.close();
    this.log.info({}, 'stopped');
    this.resolveStopped();
  }

  /** Graceful shutdown: drain, withdraw everything, Cease with the configured message; or a planned restart. */
  async stop(reason = 'signal', mode: 'drain' | 'restart' = 'drain'): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // A planned restart keeps the service addresses: the routers keep sending traffic to them.
    if (mode === 'restart') return this.restartStop(reason);
    const c = this.config;
    this.log.info({ reason }, 'stopping: draining, then withdrawing, then Cease');
    if (c) {
      await this.drain();
      this.reconciler.setSnapshot('static', []);
      for (const s of c.services) this.reconciler.setSnapshot(serviceSource(s.name), []);
      this.reconciler.setSnapshot('lxd', []);
      this.reconcileNow();
      // The withdrawals leave before the Cease: wait for every peer's flushed event.
      if (!(await this.waitFlushed(STOP_FLUSH_MS))) this.log.warn({ waitedMs: STOP_FLUSH_MS }, 'stopping: a peer had not taken every withdrawal');
    }
    this.health?.stop();
    await this.lxd?.stop();
    await this.engine?.stop(c?.drain.message ?? 'herald shutting down');
    // The routes are withdrawn and the sessions closed: no traffic is drawn to the addresses any more.
    await this.addresses?.removeAll();
    await this.closeApi();
    await this.metrics?.close();
    this.memoryTrim.close();
    this.log.info({}, 'stopped');
    this.resolveStopped();
  }

  /**
   * Planned restart on request (SIGUSR2, `routes restart`): stop without
   * withdrawing, then exit with RESTART_EXIT_CODE for the service manager to
   * start herald again at once.
   */
  plannedRestart(reason: string): void {
    if (!this.stopping) this.exitCode = RESTART_EXIT_CODE;
    void this.stop(reason, 'restart');
  }

  /** Act on a stop signal: SIGTERM does graceful_restart.on_stop (default the drain), SIGINT drains, SIGUSR2 restarts. */
  private onStopSignal(sig: string): void {
    if (sig === 'SIGUSR2') this.plannedRestart(sig);
    else void this.stop(sig, sig === 'SIGTERM' ? (this.config?.gracefulRestart?.onStop ?? 'drain') : 'drain');
  }

  /**
   * SIGHUP reloads; SIGTERM does graceful_restart.on_stop (default the
   * drain); SIGINT drains; SIGUSR2 is a planned restart that exits with
   * RESTART_EXIT_CODE for the service manager to start herald again. Install
   * before start(): a signal that arrives while herald starts (the API
   * already answers, the sessions are coming up) is held and acted on once
   * start() is done, rather than killing the process half-started.
   */
  installSignalHandlers(): void {
    const onStop = (sig: string): void => {
      if (this.running) this.onStopSignal(sig);
      else this.heldSignal = sig;
    };
    process.on('SIGHUP', () => {
      if (this.running) void this.reload();
      else this.log.warn({}, 'SIGHUP while starting: ignored (the config being started is the current file)');
    });
    process.on('SIGTERM', () => onStop('SIGTERM'));
    process.on('SIGINT', () => onStop('SIGINT'));
    process.on('SIGUSR2', () => onStop('SIGUSR2'));
  }
}

/** Say why the listener could not start, and what to do: a port in use, or no privilege for it. */
function listenFailure(e: NodeJS.ErrnoException, c: Config): string {
  const where = c.listen === false ? '' : `${c.listen.addresses.join(', ')} port ${c.listen.port}`;
  if (e.code === 'EADDRINUSE') {
    return `cannot listen for BGP on ${where}: the port is in use (BIRD or FRR on this host?); set listen: false to run without a listener (herald then connects to its peers; none may be passive), or listen on another address or port`;
  }
  if (e.code === 'EACCES') {
    return `cannot listen for BGP on ${where}: permission denied (port ${c.listen === false ? 179 : c.listen.port} needs CAP_NET_BIND_SERVICE); set listen: false to run unprivileged with active sessions only`;
  }
  if (e.code === 'EADDRNOTAVAIL') return `cannot listen for BGP on ${where}: the address is not on this host`;
  return e.message;
}

