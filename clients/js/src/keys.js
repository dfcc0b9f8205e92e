// SM2 keys and signatures with sm-crypto-v2 (README.md says why this library): keys from
// OpenSSL PEM files or raw hex; signing with a nonce from WebCrypto's CSPRNG.
import { sm2 } from 'sm-crypto-v2';

export const DEFAULT_ID = '1234567812345678';
// 1.2.156.10197.1.301: the SM2 curve, as OpenSSL names it in a PKCS#8 key.
const SM2_CURVE_OID = '06082a811ccf5501822d';
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

export const toHex = (bytes) => Buffer.from(bytes).toString('hex');
export const fromHex = (hex, what = 'hex') => {
  const s = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error(`${what}: not hex`);
  return new Uint8Array(Buffer.from(s, 'hex'));
};

// One DER TLV at pos: [tag, value, next position], lengths checked.
function derRead(data, pos) {
  if (pos + 2 > data.length) throw new Error('DER: truncated');
  const tag = data[pos];
  let len = data[pos + 1];
  pos += 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || pos + n > data.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + data[pos + i];
    pos += n;
  }
  if (pos + len > data.length) throw new Error('DER: truncated');
  return [tag, data.subarray(pos, pos + len), pos + len];
}

function derItems(data) {
  const out = [];
  for (let pos = 0; pos < data.length;) {
    const [tag, value, next] = derRead(data, pos);
    out.push([tag, value]);
    pos = next;
  }
  return out;
}

function ecPrivateKey(der) {
  const [tag, body] = derRead(der, 0);
  const items = derItems(body);
  if (tag !== 0x30 || items.length < 2 || items[1][0] !== 0x04 || items[1][1].length > 32) {
    throw new Error('PEM: not an EC private key');
  }
  for (const [t, v] of items.slice(2)) {
    if (t === 0xa0 && toHex(v) !== SM2_CURVE_OID) throw new Error('PEM: the key is not on the SM2 curve');
  }
  return toHex(items[1][1]).padStart(64, '0');
}

function pkcs8(der) {
  const [tag, body] = derRead(der, 0);
  const items = derItems(body);
  if (tag !== 0x30 || items.length < 3 || items[2][0] !== 0x04) throw new Error('PEM: not a PKCS#8 private key');
  if (!toHex(items[1][1]).includes(SM2_CURVE_OID)) {
    throw new Error('PEM: not an SM2 key (openssl genpkey -algorithm SM2 makes one)');
  }
  return ecPrivateKey(items[2][1]);
}

function pemBody(text, label) {
  const m = text.match(new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`));
  return m ? new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64')) : null;
}

/** A DER SM2 signature as raw r ‖ s (64 bytes). */
export function derToRaw(sig) {
  const [tag, body] = derRead(sig, 0);
  const items = derItems(body);
  if (tag !== 0x30 || items.length !== 2 || items.some(([t]) => t !== 0x02)) {
    throw new Error('signature: not DER SEQUENCE { r INTEGER, s INTEGER }');
  }
  return fromHex(items.map(([, v]) => BigInt('0x' + (toHex(v) || '0')).toString(16).padStart(64, '0')).join(''));
}

/** Raw r ‖ s (64 bytes) as DER. */
export function rawToDer(raw) {
  if (raw.length !== 64) throw new Error(`signature: ${raw.length} bytes, raw r ‖ s is 64`);
  const int = (b) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b[i] & 0x80 ? [0, ...b.subarray(i)] : [...b.subarray(i)];
    return [0x02, v.length, ...v];
  };
  const body = [...int(raw.subarray(0, 32)), ...int(raw.subarray(32))];
  return new Uint8Array([0x30, body.length, ...body]);
}

/** SM2 verification with Z (default ID) of message (bytes) under a 65-byte public key. */
export function verify(publicKey, message, rawSig, userId = DEFAULT_ID) {
  try {
    return sm2.doVerifySignature(new Uint8Array(message), toHex(rawSig), toHex(publicKey), { hash: true, der: false, userId });
  } catch {
    return false;
  }
}

/** An SM2 private key and its public key (65 bytes, 04 ‖ x ‖ y). */
export class Key {
  #d;

  constructor(dHex) {
    const d = BigInt('0x' + (dHex || '0'));
    if (dHex.length !== 64 || d <= 0n || d >= N - 1n) throw new Error('private key: 32 bytes, 1 <= d < n - 1');
    this.#d = dHex.toLowerCase();
    this.publicKey = fromHex(sm2.getPublicKeyFromPrivateKey(this.#d));
  }

  /** A fresh key from WebCrypto's CSPRNG. */
  static generate() {
    return new Key(sm2.generateKeyPairHex().privateKey.padStart(64, '0'));
  }

  /** The private scalar d as 64 hex digits (optional 0x). */
  static fromHex(dHex) {
    return new Key(dHex.startsWith('0x') ? dHex.slice(2) : dHex);
  }

  /** PEM text as `openssl genpkey -algorithm SM2` writes it (PKCS#8), or SEC1 "EC PRIVATE KEY". */
  static fromPem(text) {
    let der = pemBody(text, 'PRIVATE KEY');
    if (der) return new Key(pkcs8(der));
    der = pemBody(text, 'EC PRIVATE KEY');
    if (der) return new Key(ecPrivateKey(der));
    if (text.includes('ENCRYPTED PRIVATE KEY')) throw new Error('PEM: encrypted; decrypt it first (openssl pkey)');
    throw new Error('PEM: no PRIVATE KEY block');
  }

  /** SM2 signature (raw r ‖ s, 64 bytes) of message bytes: e = SM3(Z ‖ message). */
  sign(message, userId = DEFAULT_ID) {
    const sig = sm2.doSignature(new Uint8Array(message), this.#d, {
      hash: true, der: false, publicKey: toHex(this.publicKey), userId,
    });
    return fromHex(sig);
  }
}
