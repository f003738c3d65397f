// Issue 12's fault suite, the CI-sized part (`npm run faults` is the full
// run, test/faults/run.ts): herald (`herald run`, 100 services) behind FRR at
// hold time 3; FRR restarted twice, the link flapped twice, herald SIGKILLed
// twice. After each fault FRR holds every expected route from herald exactly
// once, none stale; each figure is printed, the time bounds are generous
// (test/faults/faults.ts BOUNDS). Wall time about 40 s on an idle machine.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labReady } from './lab/index.js';
import { FaultLab } from '../faults/lab.js';
import { describeFault, runFault, type FaultName } from '../faults/faults.js';

const ready = labReady(['frr'], 'the fault suite (CI part) with FRR at hold time 3');

describe.skipIf(!ready)('faults (CI part): FRR restarts, link flaps, herald SIGKILLed', () => {
  const fl = new FaultLab({ services: 100, tag: 'faults-ci' });

  beforeAll(async () => {
    await fl.start(60_000);
  }, 90_000);

  afterAll(async () => {
    await fl.close();
  });

  const cases: [FaultName, number][] = [
    ['frr-restart', 2],
    ['link-flap', 2],
    ['sigkill', 2],
  ];
  for (const [fault, count] of cases) {
    it(`${fault} ×${count}: every route back at FRR exactly once, none stale`, async () => {
      const r = await runFault(fl, fault, count);
      console.log(describeFault(r));
      expect(r.times).toHaveLength(count);
      expect(r.problems).toEqual([]);
      expect(r.routes.ok).toBe(true);
      expect(r.routes.present).toBe(101);
    }, 180_000);
  }
});
