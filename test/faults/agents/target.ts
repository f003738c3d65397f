/**
 * The health checks' target for the fault suite and the load test: a TCP
 * listener that accepts and closes every connection. Run in herald's
 * namespace (`ip netns exec NS node --import tsx target.ts HOST PORT`);
 * the harness stops it (SIGTERM, by pid) to make every service's tcp check
 * fail at once, and starts it again to make them pass. Prints "listening"
 * once bound. No RFC: test infrastructure.
 */
import { createServer } from 'node:net';

const [host = '127.0.0.1', port = '8080'] = process.argv.slice(2);
const server = createServer((s) => {
  s.on('error', () => {});
  s.destroy();
});
// A burst of 10,000 checks at once must not overflow the accept queue (it
// would look like checks timing out rather than passing).
server.listen({ host, port: Number(port), backlog: 65_535 }, () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
