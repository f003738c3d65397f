/**
 * The `http` and `https` checks: one request with node:http/https (no
 * dependency), healthy when the status is one of the expected codes and, if
 * asked, the body contains a substring or matches a regular expression.
 *
 * Redirects are never followed: a 301 is a status like any other, and the
 * detail names where it pointed. At most BODY_LIMIT bytes of the body are
 * read. For https the SNI server name is `sni`, else the Host header, else
 * the URL host (never an IP address: RFC 6066 §3 forbids literal addresses
 * in server_name); `verify_tls: false` accepts any certificate.
 */
import type * as http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { HttpCheck } from '../../../config/index.js';
import type { CheckResult } from '../types.js';
import { errText, settleOnce } from './common.js';

// node:https (and TLS with it) is loaded on the first https check: a host
// with only http checks keeps ~1.3 MB less resident (decision 0027).
const requireBuiltin = createRequire(import.meta.url);
let httpsModule: typeof Https | undefined;
const https = (): typeof Https => (httpsModule ??= requireBuiltin('node:https') as typeof Https);
// node:http on the first http check too: not on the way to the first OPEN (decision 0041).
let httpModule: typeof http | undefined;
const httpLib = (): typeof http => (httpModule ??= requireBuiltin('node:http') as typeof http);

/** Most body bytes read for a body check. */
export const BODY_LIMIT = 64 * 1024;

/** Pick the TLS server name: sni, Host header, URL host; undefined for an address. */
export function serverName(spec: Pick<HttpCheck, 'sni' | 'host'>, url: URL): string | undefined {
  const hostHeader = spec.host?.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  const name = spec.sni ?? hostHeader ?? url.hostname.replace(/^\[(.*)\]$/, '$1');
  return name === '' || isIP(name) ? undefined : name;
}

/** Send one request and judge its status and body. */
export function checkHttp(spec: HttpCheck, signal: AbortSignal): Promise<CheckResult> {
  const url = new URL(spec.url);
  const what = spec.url;
  const wantBody = spec.method !== 'HEAD' && (spec.body !== undefined || spec.bodyRegex !== undefined);
  let req: http.ClientRequest | undefined;
  return settleOnce(
    signal,
    (ms) => ({ ok: false, detail: `HTTP request to ${what} timed out after ${Math.round(ms)}ms` }),
    (done) => {
      const headers: Record<string, string> = { 'user-agent': 'herald-healthcheck', accept: '*/*', ...spec.headers };
      if (spec.host !== undefined) headers['host'] = spec.host;
      const common: http.RequestOptions = { method: spec.method, headers, agent: false };
      if (spec.kind === 'https') {
        const name = serverName(spec, url);
        const opts: Https.RequestOptions = { ...common, rejectUnauthorized: spec.verifyTls };
        if (name !== undefined) opts.servername = name;
        req = https().request(url, opts);
      } else {
        req = httpLib().request(url, common);
      }
      req.once('error', (e) => done({ ok: false, detail: `HTTP request to ${what} failed: ${errText(e)}` }));
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        if (!spec.status.includes(status)) {
          const loc = res.headers.location;
          const redirect = status >= 300 && status < 400 && loc ? `; redirect to ${loc} not followed` : '';
          done({ ok: false, detail: `HTTP ${status} from ${what} (expected ${spec.status.join(' or ')}${redirect})` });
          return;
        }
        if (!wantBody) {
          done({ ok: true, detail: `HTTP ${status} from ${what}` });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const judge = (): void => {
          const body = Buffer.concat(chunks).subarray(0, BODY_LIMIT).toString('utf8');
          const cut = size >= BODY_LIMIT ? ` (first ${BODY_LIMIT} bytes)` : '';
          if (spec.body !== undefined && !body.includes(spec.body)) {
            done({ ok: false, detail: `HTTP ${status} from ${what} but the body${cut} lacks ${JSON.stringify(spec.body)}` });
          } else if (spec.bodyRegex !== undefined && !new RegExp(spec.bodyRegex).test(body)) {
            done({ ok: false, detail: `HTTP ${status} from ${what} but the body${cut} does not match /${spec.bodyRegex}/` });
          } else {
            done({ ok: true, detail: `HTTP ${status} from ${what}, body matches` });
          }
        };
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          size += c.length;
          if (size >= BODY_LIMIT) judge();
        });
        res.once('end', judge);
        res.once('error', (e) => done({ ok: false, detail: `HTTP ${status} from ${what}, connection closed mid-body: ${errText(e)}` }));
        res.once('close', () => {
          if (!res.complete) done({ ok: false, detail: `HTTP ${status} from ${what}, connection closed mid-body` });
        });
      });
      req.end();
      return () => req?.destroy();
    },
  );
}
