// The control socket's group (api.group): resolved by name or gid, the
// socket file chowned to it with api.mode, so a member of that group can
// connect and a non-member cannot. Chown needs root; those cases skip
// otherwise. Uses the system's existing `nogroup` (65534), never creates one.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveGroup, startApiServer, type ApiDaemon, type ApiServer } from '../../../src/api/server.js';

const isRoot = process.getuid?.() === 0;
const nogroup = spawnSync('getent', ['group', 'nogroup'], { encoding: 'utf8' });
const NOGROUP_GID = nogroup.status === 0 ? Number(nogroup.stdout.split(':')[2]) : null;

/** A daemon with nothing in it: these tests only look at the socket file. */
function emptyDaemon(): ApiDaemon {
  return {
    config: null,
    engine: null,
    reconciler: { outputGroups: () => [], outputFor: () => null, contributions: () => [] },
    waitFlushed: async () => true,
    health: null,
    reloads: { ok: 0, failed: 0 },
    startedAt: Date.now(),
    drainPhase: () => null,
    drain: async () => {},
    undrain: () => {},
    reload: async () => ({ ok: true }),
    onEvent: () => () => {},
    plannedRestart: () => {},
  };
}

/** Try to connect to a unix socket as uid/gid 65534 (nobody/nogroup) with extra groups; return what happened. */
function connectAs(sock: string, gid: number): string {
  const js = `const c=require('node:net').connect(${JSON.stringify(sock)});c.on('connect',()=>{console.log('connected');c.destroy()});c.on('error',(e)=>console.log(e.code))`;
  const r = spawnSync(process.execPath, ['-e', js], { encoding: 'utf8', uid: 65534, gid });
  return r.stdout.trim() || r.stderr.trim();
}

describe('resolveGroup', () => {
  it('passes a gid through and reads digits as a gid', async () => {
    expect(await resolveGroup(0)).toBe(0);
    expect(await resolveGroup('4242')).toBe(4242);
  });

  it('looks a name up in the group database', async () => {
    expect(await resolveGroup('root')).toBe(0);
    if (NOGROUP_GID !== null) expect(await resolveGroup('nogroup')).toBe(NOGROUP_GID);
  });

  it('says what to do when the group does not exist', async () => {
    await expect(resolveGroup('herald-no-such-group-x9')).rejects.toThrow(/api\.group 'herald-no-such-group-x9' is not a group on this system; create it \(groupadd/);
  });
});

describe.skipIf(!isRoot || NOGROUP_GID === null)('the socket gets api.group (as root)', () => {
  let dir = '';
  let server: ApiServer | null = null;

  afterEach(async () => {
    await server?.close();
    server = null;
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = async (group: string | number | null, mode = 0o660): Promise<string> => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-group-'));
    fs.chmodSync(dir, 0o755);
    const sock = path.join(dir, 'herald.sock');
    server = await startApiServer(emptyDaemon(), { socket: sock, mode, group });
    return sock;
  };

  it('by name: the socket has the group and the mode; a member connects, others are refused', async () => {
    const sock = await start('nogroup');
    const st = fs.statSync(sock);
    expect(st.gid).toBe(NOGROUP_GID);
    expect(st.uid).toBe(0);
    expect(st.mode & 0o777).toBe(0o660);
    expect(connectAs(sock, NOGROUP_GID!)).toBe('connected');
    // Same uid, but not in the group: the mode keeps it out.
    expect(connectAs(sock, 4242)).toBe('EACCES');
  });

  it('by numeric gid, with another mode', async () => {
    const sock = await start(NOGROUP_GID!, 0o640);
    const st = fs.statSync(sock);
    expect(st.gid).toBe(NOGROUP_GID);
    expect(st.mode & 0o777).toBe(0o640);
  });

  it('absent: the daemon keeps its own group', async () => {
    const sock = await start(null);
    expect(fs.statSync(sock).gid).toBe(process.getgid!());
    expect(connectAs(sock, NOGROUP_GID!)).toBe('EACCES');
  });

  it('an unknown group name refuses to start and leaves no socket behind', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-group-'));
    const sock = path.join(dir, 'herald.sock');
    await expect(startApiServer(emptyDaemon(), { socket: sock, mode: 0o660, group: 'herald-no-such-group-x9' })).rejects.toThrow(/not a group on this system/);
    expect(fs.existsSync(sock)).toBe(false);
  });
});
