/**
 * The BFD Control packet codec (RFC 5880 §4.1) and the syntax half of the
 * reception checks (RFC 5880 §6.8.6). No I/O, no state.
 *
 * Owns: `BfdControlPacket`, `decodeControl` / `encodeControl`, `BfdError`
 * with a discard reason, and the one table of discard reasons the driver
 * counts (`DiscardReason`): the codec raises the syntax reasons, the driver
 * adds `ttl` (RFC 5881 §5 / RFC 5883 §5), `no-session` and `address`
 * (demultiplexing, RFC 5880 §6.8.6).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       My Discriminator                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                      Your Discriminator                       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Desired Min TX Interval                    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                   Required Min RX Interval                    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 Required Min Echo RX Interval                 |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  (Auth Type, Auth Len, Authentication Data: only with the A bit)
 *
 *   Vers 3 bits, Diag 5, Sta 2, flags P F C A D M one bit each, Detect Mult
 *   and Length one octet each (Length counts the whole packet), the rest
 *   32-bit unsigned integers in network order; intervals in microseconds.
 *
 * Reception checks done here, in the order RFC 5880 §6.8.6 lists them (each
 * "the packet MUST be discarded"): version not 1; Length below 24 (26 with
 * the A bit); Length greater than the received payload; Detect Mult zero;
 * Multipoint bit set; My Discriminator zero; Your Discriminator zero while
 * the State is not Down or AdminDown; the A bit set while "no
 * authentication is in use". herald implements no BFD authentication
 * (RFC 5880 §6.7), so every packet with the A bit is discarded with reason
 * `authentication`. Octets after Length are ignored (the RFC only discards
 * a Length larger than the payload). A packet with both P and F set breaks
 * a sender rule (§6.5) but no reception rule, so it is accepted.
 *
 * The Your Discriminator lookup ("If no session is found, the packet MUST be
 * discarded") and everything that needs session state belong to the driver
 * and to session.ts. Every byte is read through the one bounds-checked
 * Reader (STYLE.md §2); here it raises a `BfdError`, not a BgpError.
 */
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { BFD_MIN_LEN, BFD_MIN_LEN_AUTH, BFD_VERSION, BfdFlag, BfdState } from './iana.js';

/** One decoded (or to be encoded) BFD Control packet; intervals in microseconds. */
export interface BfdControlPacket {
  /** RFC 5880 §4.1 Diag, 0..31 (see BfdDiag). */
  diag: number;
  state: BfdState;
  poll: boolean;
  final: boolean;
  /** C bit: the sender's BFD does not share fate with its control plane. herald sends 0. */
  cpi: boolean;
  /** D bit: the sender wants Demand mode. herald sends 0. */
  demand: boolean;
  detectMult: number;
  myDiscriminator: number;
  yourDiscriminator: number;
  desiredMinTxUs: number;
  requiredMinRxUs: number;
  requiredMinEchoRxUs: number;
}

/**
 * Why a received packet was discarded, with the rule behind it. The codec
 * raises the first nine; the driver adds the last three.
 */
export const DiscardReason = {
  truncated: 'fewer octets than the fixed fields need',
  version: 'version is not 1 (RFC 5880 §6.8.6)',
  length: 'Length below 24, or 26 with the A bit (RFC 5880 §6.8.6)',
  'length-exceeds-payload': 'Length greater than the UDP payload (RFC 5880 §6.8.6)',
  'detect-mult-zero': 'Detect Mult is zero (RFC 5880 §6.8.6)',
  multipoint: 'Multipoint bit set (RFC 5880 §6.8.6)',
  'my-discriminator-zero': 'My Discriminator is zero (RFC 5880 §6.8.6)',
  'your-discriminator-zero': 'Your Discriminator is zero while State is Init or Up (RFC 5880 §6.8.6)',
  authentication: 'A bit set; herald uses no BFD authentication (RFC 5880 §6.8.6)',
  ttl: 'TTL / Hop Limit below the session limit (RFC 5881 §5, RFC 5883 §5)',
  'no-session': 'no session for Your Discriminator, or for the source address (RFC 5880 §6.8.6)',
  address: 'Your Discriminator names a session with another peer address or hop kind',
} as const;
export type DiscardReason = keyof typeof DiscardReason;
/** The reasons the codec raises. */
export type DecodeReason = Exclude<DiscardReason, 'ttl' | 'no-session' | 'address'>;

/** Every discard reason, in table order (for counters). */
export const DISCARD_REASONS = Object.keys(DiscardReason) as DiscardReason[];

/** A received packet that RFC 5880 §6.8.6 says to discard; `reason` names the rule. */
export class BfdError extends Error {
  readonly reason: DiscardReason;

  constructor(reason: DiscardReason, detail: string) {
    super(`BFD packet discarded (${reason}): ${detail}`);
    this.name = 'BfdError';
    this.reason = reason;
  }
}

/**
 * The Reader with BFD's error identity: running short is a `truncated`
 * discard. (Reader's own ShortError names a BGP NOTIFICATION, which a BFD
 * packet has no use for; `need` is the one place it is raised.)
 */
class BfdReader extends Reader {
  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    super(buf, { code: 0, subcode: 0, what: 'BFD field' }, start, end);
  }

  override need(n: number, what?: string): void {
    if (this.pos + n > this.end) {
      throw new BfdError('truncated', `${what ?? 'field'} needs ${n} octets, ${this.end - this.pos} left`);
    }
  }
}

/** Decode a received UDP payload; throws BfdError for anything §6.8.6 discards on syntax alone. */
export function decodeControl(bytes: Uint8Array): BfdControlPacket {
  const r = new BfdReader(bytes);
  const b0 = r.u8('Vers/Diag');
  const version = b0 >>> 5;
  // RFC 5880 §6.8.6: "If the version number is not correct (1), the packet MUST be discarded."
  if (version !== BFD_VERSION) throw new BfdError('version', `version ${version}`);
  const b1 = r.u8('Sta/flags');
  const detectMult = r.u8('Detect Mult');
  const length = r.u8('Length');
  const auth = (b1 & BfdFlag.AuthenticationPresent) !== 0;
  // "If the Length field is less than the minimum correct value (24 if the A
  // bit is clear, or 26 if the A bit is set), the packet MUST be discarded."
  const min = auth ? BFD_MIN_LEN_AUTH : BFD_MIN_LEN;
  if (length < min) throw new BfdError('length', `Length ${length} < ${min}`);
  // "If the Length field is greater than the payload of the encapsulating
  // protocol, the packet MUST be discarded."
  if (length > bytes.length) throw new BfdError('length-exceeds-payload', `Length ${length} > ${bytes.length} received`);
  // "If the Detect Mult field is zero, the packet MUST be discarded."
  if (detectMult === 0) throw new BfdError('detect-mult-zero', 'Detect Mult 0');
  // "If the Multipoint (M) bit is nonzero, the packet MUST be discarded."
  if ((b1 & BfdFlag.Multipoint) !== 0) throw new BfdError('multipoint', 'M bit set');
  const body = new BfdReader(bytes, 4, length);
  const myDiscriminator = body.u32('My Discriminator');
  const yourDiscriminator = body.u32('Your Discriminator');
  const desiredMinTxUs = body.u32('Desired Min TX Interval');
  const requiredMinRxUs = body.u32('Required Min RX Interval');
  const requiredMinEchoRxUs = body.u32('Required Min Echo RX Interval');
  // "If the My Discriminator field is zero, the packet MUST be discarded."
  if (myDiscriminator === 0) throw new BfdError('my-discriminator-zero', 'My Discriminator 0');
  const state = (b1 >>> 6) as BfdState;
  // "If the Your Discriminator field is zero and the State field is not Down
  // or AdminDown, the packet MUST be discarded."
  if (yourDiscriminator === 0 && state !== BfdState.Down && state !== BfdState.AdminDown) {
    throw new BfdError('your-discriminator-zero', `Your Discriminator 0 with State ${state === BfdState.Up ? 'Up' : 'Init'}`);
  }
  // "If the A bit is set and no authentication is in use (bfd.AuthType is
  // zero), the packet MUST be discarded." herald never uses authentication.
  if (auth) throw new BfdError('authentication', 'A bit set; BFD authentication is not implemented');
  return {
    diag: b0 & 0x1f,
    state,
    poll: (b1 & BfdFlag.Poll) !== 0,
    final: (b1 & BfdFlag.Final) !== 0,
    cpi: (b1 & BfdFlag.ControlPlaneIndependent) !== 0,
    demand: (b1 & BfdFlag.Demand) !== 0,
    detectMult,
    myDiscriminator,
    yourDiscriminator,
    desiredMinTxUs,
    requiredMinRxUs,
    requiredMinEchoRxUs,
  };
}

function checkUint(value: number, bits: 5 | 8 | 32, what: string): void {
  const max = bits === 32 ? 0xffffffff : 2 ** bits - 1;
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`BFD ${what} ${value} is not a ${bits}-bit unsigned integer`);
}

/**
 * Encode a Control packet: always the 24-octet mandatory section, A and M
 * clear (RFC 5880 §6.8.7: "Multipoint (M) Bit: Set to 0"; no authentication).
 * Throws RangeError for a field out of range (a bug in the caller).
 */
export function encodeControl(p: BfdControlPacket): Uint8Array {
  checkUint(p.diag, 5, 'Diag');
  checkUint(p.detectMult, 8, 'Detect Mult');
  checkUint(p.myDiscriminator, 32, 'My Discriminator');
  checkUint(p.yourDiscriminator, 32, 'Your Discriminator');
  checkUint(p.desiredMinTxUs, 32, 'Desired Min TX Interval');
  checkUint(p.requiredMinRxUs, 32, 'Required Min RX Interval');
  checkUint(p.requiredMinEchoRxUs, 32, 'Required Min Echo RX Interval');
  const flags =
    (p.state << 6) |
    (p.poll ? BfdFlag.Poll : 0) |
    (p.final ? BfdFlag.Final : 0) |
    (p.cpi ? BfdFlag.ControlPlaneIndependent : 0) |
    (p.demand ? BfdFlag.Demand : 0);
  const w = new Writer(BFD_MIN_LEN);
  w.u8((BFD_VERSION << 5) | p.diag)
    .u8(flags)
    .u8(p.detectMult)
    .u8(BFD_MIN_LEN)
    .u32(p.myDiscriminator)
    .u32(p.yourDiscriminator)
    .u32(p.desiredMinTxUs)
    .u32(p.requiredMinRxUs)
    .u32(p.requiredMinEchoRxUs);
  return w.finish();
}
