// The chain's byte layouts (README, "The client contract"): transaction signing bytes, tx ids,
// block header bytes, the tx root, the state root. Integers are big-endian.
import { sm2, sm3 as sm3hex } from 'sm-crypto-v2';
import { fromHex, toHex } from './keys.js';

export const sm3 = (bytes) => fromHex(sm3hex(new Uint8Array(bytes)));
const concat = (...parts) => new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
const u16 = (n) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };

/** A public key (bytes or hex, 65 or 33 bytes) as the 65 uncompressed bytes the chain signs. */
export function canonicalKey(key) {
  const hex = typeof key === 'string' ? toHex(fromHex(key, 'public key')) : toHex(key);
  if (hex.length !== 130 && hex.length !== 66) throw new Error('public key: 65 (04...) or 33 (02/03...) bytes');
  let valid = false;
  try { valid = sm2.verifyPublicKey(hex); } catch { valid = false; }
  if (!valid) throw new Error('public key: not a point on the SM2 curve');
  if (hex.length === 130) return fromHex(hex);
  const pt = sm2.precomputePublicKey(hex, 1); // decompresses a 33-byte key
  return fromHex('04' + pt.x.toString(16).padStart(64, '0') + pt.y.toString(16).padStart(64, '0'));
}

export function putPayload(key, value) {
  if (key.length < 1 || key.length > 1024 || value.length > 65536) {
    throw new Error('put: key must be 1 to 1024 bytes, value at most 65536');
  }
  return concat([1], u16(key.length), key, u32(value.length), value);
}

export const transferPayload = (to, amount) => concat([2], canonicalKey(to), u64(amount));

/** "XLTX" ‖ 01 ‖ len(chain_id):1 ‖ chain_id ‖ nonce:8 ‖ sender:65 ‖ payload. */
export function signingBytes(chainId, nonce, sender, payload) {
  const cid = Buffer.from(chainId, 'ascii');
  if (cid.length < 1 || cid.length > 64) throw new Error('chain_id: 1 to 64 characters');
  return concat(Buffer.from('XLTX'), [1], [cid.length], cid, u64(nonce), canonicalKey(sender), payload);
}

export function payloadOf(tx) {
  const p = tx.payload;
  if (p.type === 'put') return putPayload(fromHex(p.key, 'payload.key'), fromHex(p.value, 'payload.value'));
  if (p.type === 'transfer') return transferPayload(p.to, p.amount);
  throw new Error(`payload type ${p.type}: neither put nor transfer`);
}

/** The signing bytes of a transaction's JSON form. */
export const txSigningBytes = (tx) => signingBytes(tx.chain_id, tx.nonce, tx.sender, payloadOf(tx));

/** SM3 of the signing bytes, hex (the signature is not covered). */
export const txId = (tx) => toHex(sm3(txSigningBytes(tx)));

/** "XLBK" ‖ 01 ‖ height:8 ‖ prev_hash ‖ tx_root ‖ state_root ‖ timestamp_ms:8 ‖ proposer:65 ‖ tx_count:4. */
export function headerBytes(b) {
  return concat(Buffer.from('XLBK'), [1], u64(b.height), fromHex(b.prev_hash), fromHex(b.tx_root),
    fromHex(b.state_root), u64(b.timestamp_ms), fromHex(b.proposer), u32(b.tx_count));
}

/** leaf = SM3(00 ‖ data), inner = SM3(01 ‖ l ‖ r), an odd last node carried up; none = SM3(""). */
export function merkleRoot(leaves) {
  if (leaves.length === 0) return sm3(new Uint8Array());
  let level = leaves.map((l) => sm3(concat([0], l)));
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(sm3(concat([1], level[i], level[i + 1])));
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

/** SM3(02 ‖ prev_root ‖ writes in key order); writes: [[keyBytes, valueBytes | null], ...]. */
export function stateRoot(prevRoot, writes) {
  const sorted = [...writes].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts = [[2], prevRoot];
  for (const [k, v] of sorted) {
    parts.push(u32(k.length), k, v === null ? [0] : concat([1], u32(v.length), v));
  }
  return sm3(concat(...parts));
}

/** An account's state write: key "a" ‖ pubkey:65, value balance:8 ‖ nonce:8. */
export const accountWrite = (pubkey, balance, nonce) => [concat(Buffer.from('a'), canonicalKey(pubkey)), concat(u64(balance), u64(nonce))];
