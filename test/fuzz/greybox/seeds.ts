/**
 * Seed inputs for the greybox fuzzer, from real data: every BGP message of
 * the two BGP4MP update dumps in ../shared/data/mrt (sampled), routes of the
 * TABLE_DUMP and TABLE_DUMP_V2 (ADD-PATH) snapshots wrapped in UPDATEs, the
 * NLRI malformation recorded in the wild, and the hand-made fixtures of
 * every message type (fuzz-support.ts). Each comes with the codec context it
 * is valid in, as the flags octet the targets read (targets.ts).
 */
import { corpusFile } from '../../corpus/corpus-support.js';
import { mrtRecords, readDump, ribEntryUpdate, tableDumpUpdate } from '../../corpus/mrt.js';
import { fixtureSeeds, type CtxFlags } from '../fuzz-support.js';

export interface RealSeed {
  frame: Uint8Array;
  ctx: CtxFlags;
}

/** Every `step`-th BGP message of an update dump, up to `limit`. */
function updatesOf(file: string, step: number, limit: number): RealSeed[] {
  const out: RealSeed[] = [];
  let i = 0;
  for (const rec of mrtRecords(readDump(corpusFile(file)))) {
    if (rec.kind !== 'bgp4mp-message') continue;
    if (i++ % step !== 0) continue;
    out.push({ frame: rec.message, ctx: { as4: rec.as4, addPath: rec.addPath, extMsg: false, ibgp: true } });
    if (out.length >= limit) break;
  }
  return out;
}

/** Routes of the TABLE_DUMP snapshot (2-octet ASNs) and the ADD-PATH TABLE_DUMP_V2 ones. */
function tableRoutes(step: number, limit: number): RealSeed[] {
  const out: RealSeed[] = [];
  let i = 0;
  for (const rec of mrtRecords(readDump(corpusFile('bview.20020722.2337.gz')))) {
    if (rec.kind !== 'table-dump' || i++ % step !== 0) continue;
    out.push({ frame: tableDumpUpdate(rec), ctx: { as4: false, addPath: false, extMsg: false, ibgp: true } });
    if (out.length >= limit) break;
  }
  for (const f of ['bview.ipv4_unicast_add_path.gz', 'bview.ipv6_unicast_add_path.gz']) {
    for (const rec of mrtRecords(readDump(corpusFile(f)))) {
      if (rec.kind !== 'rib') continue;
      for (const e of rec.entries) out.push({ frame: ribEntryUpdate(rec, e).frame, ctx: { as4: true, addPath: e.pathId !== undefined, extMsg: false, ibgp: true } });
    }
  }
  return out;
}

/** The real seeds: all families of real messages, a few thousand in all. */
export function realSeeds(): RealSeed[] {
  return [
    ...fixtureSeeds().map((s) => ({ frame: s.frame, ctx: s.ctx })),
    ...updatesOf('updates.nlri_mask_trailing_bits.gz', 1, 10),
    ...updatesOf('updates.20071015.1505.gz', 3, 1500),
    ...updatesOf('updates.20070211.0141.gz', 10, 1500),
    ...tableRoutes(200, 600),
  ];
}
