import { emptyResult, type BenchOptions, type SenderResult, type Topology } from './common.js';
export async function benchGobgp(_t: Topology, o: BenchOptions): Promise<SenderResult> {
  const r = emptyResult('gobgp', o);
  r.error = 'not yet';
  return r;
}
