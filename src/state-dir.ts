/**
 * Small JSON files in herald's state directory (`state_dir`, default
 * /var/lib/herald): state that must outlive a restart, such as a drain an
 * operator asked for (systemd's Restart=on-failure must not undrain a host)
 * and the addresses herald put on an interface.
 *
 * Writes are atomic: the text goes to a temporary file in the same
 * directory, is fsynced, and is renamed over the old file, so a crash leaves
 * the old state or the new one, never half of one. A file that does not
 * parse, or has the wrong shape, is reported to the caller (which logs it
 * and starts from nothing), never thrown. Synchronous: the files are a few
 * hundred bytes, written only on an operator's action.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** What reading a state file found. */
export type StateRead<T> = { value: T; error: null } | { value: null; error: string | null };

/** Write `data` as JSON to dir/name atomically (temp file, fsync, rename); throws on failure. */
export function writeStateFile(dir: string, name: string, data: unknown): string {
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const file = join(dir, name);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o640);
  try {
    writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  // The rename itself must reach the disk before we say the state is kept.
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
  return file;
}

/**
 * Read dir/name. A missing file is { value: null, error: null }; one that
 * cannot be read, does not parse or fails `check` gives the reason.
 */
export function readStateFile<T>(dir: string, name: string, check: (v: unknown) => T | string): StateRead<T> {
  const file = join(dir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { value: null, error: null };
    return { value: null, error: `cannot read ${file}: ${(e as Error).message}` };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { value: null, error: `${file} is not JSON: ${(e as Error).message}` };
  }
  const r = check(v);
  return typeof r === 'string' ? { value: null, error: `${file}: ${r}` } : { value: r, error: null };
}
