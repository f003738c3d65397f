// The LXD client over HTTPS (issue 4, "Client"): a client certificate, a
// pinned server certificate, TLS 1.3 only, for the requests and for the
// events websocket. The server is FakeLxd.startTls() on loopback, built from
// LXD's documented behaviour (untrusted clients get auth "untrusted" on /1.0
// and 403 elsewhere). The same client is run against a real LXD 5.0 in
// test/interop/lxd.test.ts; this file covers what a real LXD cannot show
// here: a server that only speaks TLS 1.2.
//
// fixtures/*.key are throwaway test keys (self-signed, P-384, made with
// openssl for these tests only).
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { certFingerprint, LxdApiError, LxdClient, lxdTlsOptions, type LxdEndpoint } from '../../../../src/sources/lxd/client.js';
import { LxdSource } from '../../../../src/sources/lxd/source.js';
import type { Intent } from '../../../../src/reconciler/index.js';
import type { LxdInstance, LxdNetwork } from '../../../../src/sources/lxd/types.js';
import { FakeLxd } from './fake-lxd.js';
import { sample, sleep, until } from './helpers.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const SERVER = { cert: fixture('lxd-server.crt'), key: fixture('lxd-server.key') };
const IMPOSTOR = { cert: fixture('impostor.crt'), key: fixture('impostor.key') };
const CLIENT = { cert: fixture('herald-client.crt'), key: fixture('herald-client.key') };

let fake: FakeLxd;
let source: LxdSource | null = null;

beforeEach(async () => {
  fake = new FakeLxd();
  fake.data.networks = sample<LxdNetwork[]>('networks-recursion1-ovn.json').map((n) => ({ ...n, project: 'default' }));
  fake.data.instances = sample<LxdInstance[]>('instances-recursion2-ovn.json');
  fake.trusted.add(certFingerprint(CLIENT.cert));
});
afterEach(async () => {
  await source?.stop();
  source = null;
  await fake.dispose();
});

const endpoint = (url: string, serverCert = SERVER.cert, client = CLIENT): Extract<LxdEndpoint, { kind: 'https' }> => ({
  kind: 'https',
  url,
  cert: client.cert,
  key: client.key,
  serverCert,
});

describe('LxdClient over HTTPS (fake LXD on loopback)', () => {
  it('reads /1.0 and the instances with the pinned certificate, over TLS 1.3, presenting the client certificate', async () => {
    const url = await fake.startTls(SERVER);
    const c = new LxdClient(endpoint(url));
    expect(c.describe()).toBe(url);
    expect(await c.server()).toMatchObject({ auth: 'trusted', environment: { server_name: 'none' } });
    expect((await c.instances()).map((i) => i.name)).toEqual(['c1', 'c2']);
    const v = await c.readView({ announceFrom: 'all-members', forwards: true, loadBalancers: true });
    expect(v.networks.some((n) => n.name === 'net1')).toBe(true);
    expect(fake.tlsRequests.length).toBeGreaterThan(2);
    for (const r of fake.tlsRequests) expect(r).toEqual({ protocol: 'TLSv1.3', client: certFingerprint(CLIENT.cert) });
  });

  it('follows lifecycle events over wss:// with the same pin, and publishes', async () => {
    const url = await fake.startTls(SERVER);
    const published: (readonly Intent[])[] = [];
    source = new LxdSource({ client: new LxdClient(endpoint(url)), publish: () => published.push(source!.snapshot().intents), resyncMs: 0, backoffInitialMs: 20, backoffMaxMs: 100 });
    await source.start();
    expect(published.at(-1)!.map((i) => i.prefix).sort()).toEqual(['198.51.100.0/25', '198.51.100.200/32']);
    await until(() => fake.eventClients === 1 && source!.state().eventsConnected);
    const n0 = published.length;
    const c2 = fake.data.instances[1]!;
    c2.status = 'Running';
    c2.expanded_devices = { eth0: { type: 'nic', network: 'net1', 'ipv4.routes.external': '198.51.100.201/32' } };
    fake.emit('instance-started', '/1.0/instances/c2');
    await until(() => published.length > n0);
    expect(published.at(-1)!.map((i) => i.prefix)).toContain('198.51.100.201/32');
  });

  it('refuses a server whose certificate is not the pinned one, saying so, for requests and for events', async () => {
    const url = await fake.startTls(IMPOSTOR);
    const c = new LxdClient(endpoint(url));
    const err = await c.server().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LxdApiError);
    const pinned = certFingerprint(SERVER.cert);
    expect((err as Error).message).toBe(
      `LXD ${url} /1.0: the server's certificate is not the pinned server certificate (SHA-256 ${pinned}): TLS verification failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`,
    );
    // No request got through to the impostor.
    expect(fake.tlsRequests).toEqual([]);
    // The source stays unreachable, with the reason; the websocket is refused too.
    source = new LxdSource({ client: c, publish: () => {}, resyncMs: 0, backoffInitialMs: 20, backoffMaxMs: 100 });
    await source.start();
    await sleep(150);
    expect(source.state()).toMatchObject({ status: 'unreachable', eventsConnected: false, lastError: expect.stringMatching(/not the pinned server certificate/) });
    expect(fake.eventClients).toBe(0);
  });

  it('refuses a certificate the pinned one merely signed: the fingerprint must match', () => {
    // checkServerIdentity is the last word once the chain verified.
    const opts = lxdTlsOptions(endpoint('https://192.0.2.5:8443'));
    const other = new (class {
      fingerprint256 = certFingerprint(IMPOSTOR.cert);
    })() as unknown as Parameters<typeof opts.checkServerIdentity>[1];
    expect(opts.checkServerIdentity('192.0.2.5', other)?.message).toBe(
      `the server's certificate (SHA-256 ${certFingerprint(IMPOSTOR.cert)}) is not the pinned server certificate (SHA-256 ${certFingerprint(SERVER.cert)})`,
    );
    const same = { fingerprint256: certFingerprint(SERVER.cert) } as unknown as Parameters<typeof opts.checkServerIdentity>[1];
    expect(opts.checkServerIdentity('192.0.2.5', same)).toBeUndefined();
    expect(opts).toMatchObject({ minVersion: 'TLSv1.3', rejectUnauthorized: true, ca: [SERVER.cert] });
  });

  it('never negotiates TLS 1.2: a server that only speaks TLS 1.2 is refused with a clear error', async () => {
    const url = await fake.startTls({ ...SERVER, maxVersion: 'TLSv1.2' });
    const err = await new LxdClient(endpoint(url)).server().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(`LXD ${url} /1.0: TLS 1.3 could not be negotiated (herald requires it): tlsv1 alert protocol version (EPROTO)`);
    expect(fake.tlsRequests).toEqual([]);
    // The same server does speak TLS 1.2 to a client that offers it (so the refusal is herald's).
    const port = Number(new URL(url).port);
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ca: [SERVER.cert], checkServerIdentity: () => undefined, maxVersion: 'TLSv1.2' }, () => {
        resolve(s.getProtocol());
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(protocol).toBe('TLSv1.2');
  });

  it('says when LXD does not trust the client certificate', async () => {
    fake.trusted.clear();
    const url = await fake.startTls(SERVER);
    const c = new LxdClient(endpoint(url));
    await expect(c.readView({ announceFrom: 'all-members', forwards: false, loadBalancers: false })).rejects.toThrow(
      `LXD ${url} does not trust herald's client certificate (SHA-256 ${certFingerprint(CLIENT.cert)}): add it with 'lxc config trust add'`,
    );
    await expect(c.instances()).rejects.toMatchObject({ status: 403, message: 'LXD /1.0/instances?recursion=1&all-projects=true: not authorized' });
  });
});
