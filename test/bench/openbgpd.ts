import { emptyResult, type BenchOptions, type SenderResult, type Topology } from './common.js';
export async function benchOpenbgpd(_t: Topology, o: BenchOptions): Promise<SenderResult> {
  const r = emptyResult('openbgpd', o);
  r.error = 'not yet';
  return r;
}
