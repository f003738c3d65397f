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
 * - stop (SIGTERM/SIGINT): drain every service, withdraw everything, then
 *   Cease/Administrative Shutdown with the configured message (RFC 9003).
 */
import { Speaker, type PeerConfig } from '../bgp/index.js';
import { ConfigError, diffConfig, loadConfig, toPeerConfig, type Config, type ServiceConfig } from './config/index.js';
import { makeLogger, type Logger } from './log.js';
import { Reconciler, type PeerView } from './reconciler/index.js';
import { serviceIntents, staticIntents, type DrainPhase, type ServiceState } from './sources/intents.js';
import { HealthSource } from './sources/health/index.js';
import { realClock } from '../bgp/index.js';
import { startApiServer, type ApiServer } from './api/server.js';
import { lxdEvent, peerEvent, serviceEvent, type StateEvent } from './state.js';
// Loaded only when the config asks for them (decisions/0024): prom-client
// and the LXD client (axios, ws) cost idle memory a host without them keeps.
import type { MetricsHandle } from './metrics.js';
import type { LxdSource } from './sources/lxd/index.js';

export class Daemon {
  readonly configPath: string;
  config: Config | null = null;
  readonly log: Logger;
  speaker: Speaker | null = null;
  readonly reconciler: Reconciler;
  health: HealthSource | null = null;
  private readonly drains = new Map<string, { phase: DrainPhase; timer?: NodeJS.Timeout }>();
  private resolveStopped!: () => void;
  /** Resolves when the daemon has stopped. */
  readonly stopped: Promise<void>;
  private stopping = false;
  reloads = { ok: 0, failed: 0 };
  /** Wall-clock time the daemon object was created (for uptime). */
  readonly startedAt = Date.now();
  private api: ApiServer | null = null;
  metrics: MetricsHandle | null = null;
  /** The LXD/Incus route source, when the config has an `lxd` section. */
  lxd: LxdSource | null = null;
  /** Why the configured LXD source could not start (shown by the API and `routes`); null otherwise. */
  lxdStartError: string | null = null;
  private readonly eventListeners = new Set<(e: StateEvent) => void>();

  constructor(configPath: string, log?: Logger) {
    this.configPath = configPath;
    this.log = log ?? makeLogger(process.env.HERALD_LOG_LEVEL ?? 'info');
    this.reconciler = new Reconciler({
      setRouteGroups: (peer, groups) => {
        this.speaker?.setRouteGroups(peer, groups);
        let routes = 0;
        for (const g of groups) routes += g.prefixes.length;
        this.log.info({ peer, routes, groups: groups.length }, 'desired routes changed');
      },
    });
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  /** Load the config and start everything; throws ConfigError for a bad config. */
  async start(): Promise<void> {
    const config = await loadConfig(this.configPath);
    this.config = config;
    const metricsModule = config.metrics ? await import('./metrics.js') : null;
    const speaker = new Speaker({
      asn: config.asn,
      routerId: config.routerId,
      listen: { address: config.listen.address, port: config.listen.port },
      logger: this.log,
    });
    this.speaker = speaker;
    for (const p of config.peers) if (!p.shutdown) speaker.addPeer(toPeerConfig(p));
    speaker.on((e) => {
      if (e.type === 'established') {
        // A fresh session starts from nothing: hand it its set again.
        this.reconciler.invalidate(e.peer);
        this.reconcile();
      }
    });
    speaker.on((e) => this.emitEvent(peerEvent(e)));
    await speaker.start();
    this.reconciler.setPeers(peerViews(config));
    this.reconciler.setSnapshot('static', staticIntents(config.static));
    this.startHealth(config.services);
    // Before any await, so the metrics see the first health transitions.
    this.metrics = metricsModule ? await metricsModule.startMetrics(this, { log: this.log }) : null;
    this.reconcile();
    await this.startApi(config);
    await this.startLxd(config);
    this.log.info(
      { peers: config.peers.length, services: config.services.length, static: config.static.length, config: this.configPath },
      'herald started',
    );
  }

  private startHealth(services: readonly ServiceConfig[]): void {
    const h = new HealthSource(services, { clock: realClock });
    this.health = h;
    h.on('change', (t) => {
      this.log.info({ service: t.service, from: t.from, to: t.to, reason: t.reason }, 'service health changed');
      this.emitEvent(serviceEvent(t));
      this.refreshServices();
    });
    h.start();
    this.refreshServices();
  }

  /** Rebuild the services source from health states and drains, then reconcile. */
  private refreshServices(): void {
    const c = this.config;
    if (!c || !this.health) return;
    const states = this.health.snapshot();
    const intents = c.services.flatMap((s) =>
      serviceIntents(s, (states.get(s.name)?.state ?? 'down') as ServiceState, this.drains.get(s.name)?.phase ?? null),
    );
    this.reconciler.setSnapshot('services', intents);
    this.reconcile();
  }

  private reconcile(): void {
    if (!this.speaker) return;
    this.reconciler.reconcile();
  }

  /** Apply a new config without touching sessions that did not change; keeps the old state on error. */
  async reload(): Promise<{ ok: true } | { ok: false; errors: string[] }> {
    let next: Config;
    try {
      next = await loadConfig(this.configPath);
    } catch (e) {
      this.reloads.failed++;
      const errors = e instanceof ConfigError ? e.issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.path}: ${i.message}`) : [(e as Error).message];
      this.log.error({ errors }, 'reload refused: the new config is invalid; still running the previous one');
      this.emitEvent({ type: 'reload', at: new Date().toISOString(), ok: false, errors });
      return { ok: false, errors };
    }
    const old = this.config!;
    const sp = this.speaker!;
    const d = diffConfig(old, next);
    if (old.asn !== next.asn || old.routerId !== next.routerId || JSON.stringify(old.listen) !== JSON.stringify(next.listen)) {
      this.log.warn({}, 'asn, router_id and listen changes take effect only after a restart; kept the running values');
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
      const r = sp.updatePeer(pc);
      if (r !== 'unchanged') this.log.info({ peer: name, result: r }, 'peer settings changed');
    }
    this.config = next;
    this.reconciler.setPeers(peerViews(next));
    this.reconciler.setSnapshot('static', staticIntents(next.static));
    // Services whose checks did not change keep running with their state.
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
    this.reloads.ok++;
    this.emitEvent({ type: 'reload', at: new Date().toISOString(), ok: true, errors: [] });
    this.log.info({ added: d.peers.added, removed: d.peers.removed, changed: d.peers.changed.map((c) => c.name) }, 'config reloaded');
    return { ok: true };
  }

  /** Drain services (all when names is empty): GRACEFUL_SHUTDOWN for the drain period, then withdraw. */
  drain(names: string[] = []): Promise<void> {
    const c = this.config!;
    const targets = names.length ? c.services.filter((s) => names.includes(s.name)) : c.services;
    const period = c.drain.periodMs;
    for (const s of targets) {
      const prev = this.drains.get(s.name);
      if (prev?.timer) clearTimeout(prev.timer);
      this.drains.set(s.name, { phase: period > 0 ? 'graceful-shutdown' : 'withdrawn' });
    }
    this.log.info({ services: targets.map((s) => s.name), periodMs: period }, 'draining');
    this.refreshServices();
    const drained = targets.map((s) => s.name);
    this.emitEvent({ type: 'drain', at: new Date().toISOString(), services: drained, phase: period > 0 ? 'graceful-shutdown' : 'withdrawn' });
    if (period <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        for (const s of targets) this.drains.set(s.name, { phase: 'withdrawn' });
        this.refreshServices();
        this.emitEvent({ type: 'drain', at: new Date().toISOString(), services: drained, phase: 'withdrawn' });
        resolve();
      }, period);
      for (const s of targets) this.drains.set(s.name, { phase: 'graceful-shutdown', timer: t });
    });
  }

  /** End a drain: services announce again according to their health. */
  undrain(names: string[] = []): void {
    const keys = names.length ? names : [...this.drains.keys()];
    for (const k of keys) {
      const d = this.drains.get(k);
      if (d?.timer) clearTimeout(d.timer);
      this.drains.delete(k);
    }
    this.refreshServices();
    this.emitEvent({ type: 'undrain', at: new Date().toISOString(), services: keys });
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
        (intents) => {
          this.reconciler.setSnapshot('lxd', intents);
          this.reconcile();
        },
        this.log,
        { onStatus: (change, st) => this.emitEvent(lxdEvent(change, st)) },
      );
      await this.lxd.start();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'cannot start the LXD source; routes from LXD are not announced');
      this.lxd = null;
      this.lxdStartError = (e as Error).message;
    }
  }

  private async startApi(config: Config): Promise<void> {
    try {
      this.api = await startApiServer(this, { socket: config.api.socket, mode: config.api.mode, group: config.api.group });
      this.log.info({ socket: config.api.socket }, 'control API listening');
    } catch (e) {
      this.log.error({ socket: config.api.socket, err: (e as Error).message }, 'control API not started; routes CLI will not reach this daemon');
    }
  }

  /** Graceful shutdown: drain, withdraw everything, Cease with the configured message. */
  async stop(reason = 'signal'): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const c = this.config;
    this.log.info({ reason }, 'stopping: draining, then withdrawing, then Cease');
    if (c) {
      await this.drain();
      this.reconciler.setSnapshot('static', []);
      this.reconciler.setSnapshot('services', []);
      this.reconciler.setSnapshot('lxd', []);
      this.reconcile();
      // Give the withdrawals a moment to leave before the Cease.
      await new Promise((r) => setTimeout(r, 200));
    }
    this.health?.stop();
    await this.lxd?.stop();
    await this.speaker?.stop(c?.drain.message ?? 'herald shutting down');
    await this.api?.close();
    await this.metrics?.close();
    this.log.info({}, 'stopped');
    this.resolveStopped();
  }

  /** SIGHUP reloads; SIGTERM and SIGINT stop gracefully. */
  installSignalHandlers(): void {
    process.on('SIGHUP', () => void this.reload());
    process.on('SIGTERM', () => void this.stop('SIGTERM'));
    process.on('SIGINT', () => void this.stop('SIGINT'));
  }
}

function peerViews(c: Config): PeerView[] {
  return c.peers.filter((p) => !p.shutdown).map((p) => ({ name: p.name, families: p.families }));
}
