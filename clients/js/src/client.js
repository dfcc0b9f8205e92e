// The node's HTTP API: submit, wait, read, and verify blocks locally. Node's built-in fetch.
import { randomInt } from 'node:crypto';
import { fromHex, toHex, verify } from './keys.js';
import { canonicalKey, headerBytes, merkleRoot, sm3, txId, txSigningBytes } from './wire.js';

/** An error answer: HTTP status, `kind` (README, "Error kinds"), message, tx id when it had one. */
export class XinlianError extends Error {
  constructor(status, kind, message, txId = null) {
    super(`${status} ${kind}: ${message}`);
    Object.assign(this, { status, kind, txId });
  }
}

function signed(key, chainId, nonce, payload) {
  // A random nonce below 2^48 (randomInt's bound; JSON numbers stay exact below 2^53).
  const tx = { chain_id: chainId, nonce: nonce ?? randomInt(2 ** 48 - 1), sender: toHex(key.publicKey), payload };
  tx.signature = toHex(key.sign(txSigningBytes(tx)));
  return tx;
}

/** A signed Put transaction's JSON form; key and value are bytes (Uint8Array or Buffer). */
export const signPut = (key, chainId, recordKey, value, nonce) =>
  signed(key, chainId, nonce, { type: 'put', key: toHex(recordKey), value: toHex(value) });

/** A signed Transfer transaction's JSON form. */
export const signTransfer = (key, chainId, to, amount, nonce) =>
  signed(key, chainId, nonce, { type: 'transfer', to: toHex(canonicalKey(to)), amount });

export class Client {
  constructor(url, timeoutMs = 10000) {
    this.url = url.replace(/\/$/, '');
    this.timeoutMs = timeoutMs;
  }

  async call(method, path, body) {
    const r = await fetch(this.url + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await r.text();
    let answer;
    try { answer = JSON.parse(text); } catch { answer = { error: text, kind: 'internal' }; }
    // An array's 503 (every element met a full mempool) is still an array answer.
    if (r.ok || (answer && Array.isArray(answer.results))) return answer;
    throw new XinlianError(r.status, answer.kind, answer.error, answer.id ?? null);
  }

  status() { return this.call('GET', '/status'); }

  /** POST one transaction: its id (202), or XinlianError with the refusal's kind. */
  async submit(tx) { return (await this.call('POST', '/tx', tx)).id; }

  /** POST an array: per element, in order, its id or an XinlianError (status 0: per element). */
  async submitMany(txs) {
    const answer = await this.call('POST', '/tx', txs);
    return answer.results.map((r) => (r.status ? r.id : new XinlianError(0, r.kind, r.error, r.id ?? null)));
  }

  tx(id) { return this.call('GET', `/tx/${id}`); }

  /** Poll until committed; XinlianError kind "rejected" or "timeout" otherwise. */
  async wait(id, timeoutMs = 30000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const a = await this.tx(id);
      if (a.status === 'committed') return a;
      if (a.status === 'rejected') throw new XinlianError(200, 'rejected', a.reason, id);
      if (Date.now() > deadline) throw new XinlianError(0, 'timeout', `${id} still ${a.status}`, id);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /** A record: a string key is percent-encoded, bytes are sent as hex. */
  state(key) {
    if (typeof key === 'string') return this.call('GET', `/state/${encodeURIComponent(key)}`);
    return this.call('GET', `/state/${toHex(key)}?encoding=hex`);
  }

  block(which = 'latest') { return this.call('GET', `/block/${which}`); }

  account(pubkey) { return this.call('GET', `/account/${toHex(canonicalKey(pubkey))}`); }
}

/** Check a block from GET /block locally: tx ids, tx root, header hash, proposer signature. */
export function verifyBlock(block) {
  const ids = block.txs.map((tx, i) => {
    const { id, ...body } = tx;
    if (txId(body) !== id) throw new Error(`tx ${i}: id ${id} is not SM3 of its signing bytes`);
    return fromHex(id);
  });
  if (ids.length !== block.tx_count) throw new Error(`tx_count ${block.tx_count} but ${ids.length} transactions`);
  if (toHex(merkleRoot(ids)) !== block.tx_root) throw new Error('tx_root is not the Merkle root of the tx ids');
  const header = headerBytes(block);
  if (toHex(sm3(header)) !== block.hash) throw new Error('hash is not SM3 of the header bytes');
  if (block.height === 0) return; // genesis comes from the genesis file, the same on every node: unsigned
  if (!verify(canonicalKey(block.proposer), header, fromHex(block.signature))) {
    throw new Error("the proposer's signature does not verify");
  }
}
