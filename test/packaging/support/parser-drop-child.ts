// Run by test/packaging/dist.test.ts in a process of its own (no zod loaded
// before): reads configs through dist/config-parser.cjs as the daemon does
// (src/config/load.ts) and reports on stdout, as JSON, whether what came back
// is this thread's Secret and ConfigError, whether the parser left a global,
// and whether the bundle's code was collected afterwards — with the globals removed,
// and (the control) without.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadBundle, withoutNewGlobals } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/errors.js';
import { Secret } from '../../../src/config/secret.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const file = process.argv[2]!;
const GOOD = 'router_id: 192.0.2.1\nasn: 65001\npeers:\n  - { name: a, address: 192.0.2.2, asn: 65002, password: s3cret }\n';
const BAD = 'router_id: 192.0.2.1\nasn: 65001\npeers:\n  - { name: a, address: 192.0.2.2, asn: 65002, intervall: 3 }\n';

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref(); i++) {
    await new Promise((r) => setTimeout(r, 10));
    gc();
  }
  return ref.deref() === undefined;
}

/** One read through a fresh bundle; the bundle's exports are watched through a WeakRef. */
async function read(dropGlobals: boolean): Promise<{ ref: WeakRef<object>; secretIsOurs: boolean; line: number; errorIsOurs: boolean; zodGlobal: boolean }> {
  let ref!: WeakRef<object>;
  const run = async () => {
    const p = loadBundle(file);
    // A function of the bundle's top level: it lives in the one context all of
    // the bundle's functions share, so it is collected only with all of them.
    ref = new WeakRef(p.parseConfigWithLocator);
    const { config, locate } = p.parseConfigWithLocator(GOOD, 'good.yaml');
    let errorIsOurs = false;
    try {
      p.parseConfigWithLocator(BAD, 'bad.yaml');
    } catch (e) {
      errorIsOurs = e instanceof ConfigError && e.issues[0]!.line === 4;
    }
    return { secretIsOurs: config.peers[0]!.password instanceof Secret && config.peers[0]!.password.reveal() === 's3cret', line: locate(['peers', 0, 'asn']).line, errorIsOurs };
  };
  const r = dropGlobals ? await withoutNewGlobals(run) : await run();
  return { ref, ...r, zodGlobal: '__zod_globalConfig' in globalThis };
}

const kept = await read(false);
const keptCollected = await collected(kept.ref);
Reflect.deleteProperty(globalThis, '__zod_globalConfig');
const dropped = await read(true);
const droppedCollected = await collected(dropped.ref);
process.stdout.write(
  JSON.stringify({
    secretIsOurs: kept.secretIsOurs && dropped.secretIsOurs,
    errorIsOurs: kept.errorIsOurs && dropped.errorIsOurs,
    line: dropped.line,
    zodGlobalWithout: kept.zodGlobal,
    zodGlobalWith: dropped.zodGlobal,
    keptCollected,
    droppedCollected,
  }),
);
