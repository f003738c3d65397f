/**
 * Helpers for UPDATE / attribute fixture tests: annotated hex in, bytes out;
 * contexts; decode and encode of a body; hex rendering for readable diffs.
 */
import { DEFAULT_CONTEXT, withContext, type CodecContext, type FamilyKey } from '../../../../bgp/wire/context.js';
import { Reader } from '../../../../bgp/wire/reader.js';
import { Writer } from '../../../../bgp/wire/writer.js';
import { decodeUpdateBody, encodeUpdateBody } from '../../../../bgp/wire/messages/update.js';
import { parsePrefix, type Nlri } from '../../../../bgp/wire/prefix.js';
import type { UpdateMessage } from '../../../../bgp/wire/types.js';

/** Bytes from annotated hex: `#` starts a comment, whitespace is ignored. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`bad hex fixture: ${clean}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

/** Render bytes as spaced hex, 16 to a line, so a failing toBe shows a readable diff. */
export function toHex(b: Uint8Array): string {
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 16) out.push(Array.from(b.subarray(i, i + 16), (x) => x.toString(16).padStart(2, '0')).join(' '));
  return out.join('\n');
}

export const CTX2: CodecContext = DEFAULT_CONTEXT;
export const CTX4: CodecContext = withContext(DEFAULT_CONTEXT, { as4: true });
export const IBGP4: CodecContext = withContext(CTX4, { ibgp: true });

/** A context with ADD-PATH both ways for the given families. */
export const addPathCtx = (base: CodecContext, ...fams: FamilyKey[]): CodecContext =>
  withContext(base, { addPathReceive: new Set(fams), addPathSend: new Set(fams) });

/** Decode an UPDATE body from bytes. */
export function decodeBody(b: Uint8Array, ctx: CodecContext): UpdateMessage {
  return decodeUpdateBody(new Reader(b, { code: 1, subcode: 2, what: 'UPDATE body' }), ctx);
}

/** Encode an UPDATE body to bytes. */
export function encodeBody(m: UpdateMessage, ctx: CodecContext): Uint8Array {
  const w = new Writer(64);
  encodeUpdateBody(w, m, ctx);
  return w.finish();
}

/** An NLRI entry from prefix text. */
export function nlri(text: string, pathId?: number): Nlri {
  const prefix = parsePrefix(text);
  if (!prefix) throw new Error(`bad prefix ${text}`);
  return pathId === undefined ? { prefix } : { prefix, pathId };
}

/** An UPDATE message with defaults. */
export function update(p: Partial<UpdateMessage>): UpdateMessage {
  return { type: 'update', withdrawn: [], attributes: {}, nlri: [], ...p };
}

/** Capture the error a function throws (fails the test if it does not throw). */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}
