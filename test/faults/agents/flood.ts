/**
 * A configured peer that sends huge attributes, for the fault suite (issue
 * 12's crash repro: /32 UPDATEs each with a 16,340-ASN AS_PATH in 65,533-octet
 * extended messages, test/bench/huge-as-path.ts at full size). Run in the
 * namespace that holds the peer's address:
 *
 *   node --import tsx flood.ts '{"host":"2001:db8:0:200::1","port":179,"local":"2001:db8:0:200::2",
 *     "asn":65020,"bgpId":"192.0.2.20","routes":30000,"pathLength":16340}'
 *
 * Sends until every route is out or herald ends the session, then waits a
 * moment for herald's NOTIFICATION and prints one JSON line: routes sent,
 * what came back, seconds. No RFC behaviour of its own (raw bytes from
 * test/support/bgp-client.ts).
 */
import { hugePathUpdate, KEEPALIVE, RawPeer } from '../../support/bgp-client.js';

interface Spec {
  host: string;
  port: number;
  local: string;
  asn: number;
  bgpId: string;
  routes: number;
  pathLength: number;
  /** IPv4 next hop written in the UPDATEs (herald has the IPv4 family off or not: it is route data). */
  nextHop?: string;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const t0 = performance.now();
const peer = await RawPeer.connect(spec.host, spec.port, spec.local);
await peer.establish(spec.asn, spec.bgpId, { extendedMessage: true });
const ka = setInterval(() => void peer.send(KEEPALIVE), 20_000);
let sent = 0;
for (; sent < spec.routes && !peer.closed; sent++) {
  // Route data only: 240.0.0.0/4 host routes, never installed anywhere.
  await peer.send(hugePathUpdate((0xf0000001 + sent) >>> 0, spec.nextHop ?? '192.0.2.20', spec.asn, spec.pathLength));
}
await peer.until(() => peer.closed || peer.notification() !== undefined, 5_000, 'herald to act').catch(() => {});
clearInterval(ka);
const n = peer.notification();
process.stdout.write(
  `${JSON.stringify({
    sent,
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    notification: n ? `${n.code}/${n.subcode}` : null,
    closed: peer.closed,
  })}\n`,
);
peer.close();
