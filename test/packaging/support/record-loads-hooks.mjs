// Module loader hooks for record-loads.mjs: log each file: URL loaded.
import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && process.env.HERALD_LOAD_LOG) appendFileSync(process.env.HERALD_LOAD_LOG, `${url}\n`);
  return nextLoad(url, context);
}
