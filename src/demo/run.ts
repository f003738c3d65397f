/**
 * Entry point of `npm run demo` (tsx src/demo/run.ts [--no-install]): runs
 * the anycast failover demo in src/demo/demo.ts and exits with its code
 * (0 when every step did what it should). No RFC: this is the demo.
 */
import { main } from './demo.js';

process.exit(await main(process.argv.slice(2)));
