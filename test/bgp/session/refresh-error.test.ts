// A malformed ROUTE-REFRESH (RFC 7313 §5, code 7) before Established is an
// unexpected message first (RFC 6608 §4: FSM Error with the state's subcode and
// the message type as data); in Established it keeps its own 7/1. Found by
// test/interop/garbage.test.ts, where herald answered 7/1 in OpenSent.
import { describe, it } from 'vitest';
import { errorEvent, step } from '../../../bgp/session/fsm.js';
import type { FsmState } from '../../../bgp/session/types.js';
import { bgpError } from '../../../bgp/wire/errors.js';
import { expectNotifiedDown, sessionIn } from './fixtures.js';

const T0 = 1_000_000;
const badRefresh = errorEvent(bgpError(7, 1, 'ROUTE-REFRESH subtype 1 body is 6 octets, not 4', new Uint8Array([0xff, 0x05])));

describe('malformed ROUTE-REFRESH by state', () => {
  it.each<[FsmState, number, number, number[]]>([
    ['OpenSent', 5, 1, [5]],
    ['OpenConfirm', 5, 2, [5]],
    ['Established', 7, 1, [0xff, 0x05]],
  ])('%s -> NOTIFICATION %i/%i', (state, code, subcode, data) => {
    const r = step(sessionIn(state, { t: T0 }), badRefresh, T0 + 1);
    expectNotifiedDown(r, code, subcode, data);
  });
});
