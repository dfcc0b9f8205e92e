// xinlian-client against a live node (XINLIAN_URL), with the xinlian binary (XINLIAN_BIN) and the
// OpenSSL command line for interop. scripts/check-clients.sh starts the node and runs these.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as xc from '../src/index.js';

const { wire } = xc;
const URL = process.env.XINLIAN_URL ?? 'http://127.0.0.1:8600';
const BIN = process.env.XINLIAN_BIN ?? 'xinlian';
const TMP = mkdtempSync(join(tmpdir(), 'xinlian-js-'));
const node = new xc.Client(URL);
let chain;

const openssl = (...args) => execFileSync('openssl', args, { timeout: 30000 });
function opensslKey(name) {
  const path = join(TMP, name);
  openssl('genpkey', '-algorithm', 'SM2', '-out', path);
  return path;
}
const opensslPubkey = (pem) => new Uint8Array(openssl('pkey', '-in', pem, '-pubout', '-outform', 'DER').subarray(-65));
const put = (key, k, v) => xc.signPut(key, chain, Buffer.from(k), Buffer.from(v));

async function rejects(promise, status, kinds) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof xc.XinlianError, String(e));
    assert.equal(e.status, status, e.message);
    assert.ok(kinds.includes(e.kind), e.message);
    return true;
  });
}

before(async () => { chain = (await node.status()).chain_id; });

test('a key from openssl genpkey signs a record that commits and reads back', async () => {
  const pem = opensslKey('k1.pem');
  const key = xc.Key.fromPem(readFileSync(pem, 'ascii'));
  assert.deepEqual(key.publicKey, opensslPubkey(pem));
  const done = await node.wait(await node.submit(put(key, 'js/doc 1?#%', 'hello 芯链')));
  assert.equal(done.receipt.ok, true);
  assert.equal((await node.state('js/doc 1?#%')).value_utf8, 'hello 芯链');
  assert.equal((await node.state(Buffer.from('js/doc 1?#%'))).value, Buffer.from('hello 芯链').toString('hex'));
  assert.equal((await node.account(key.publicKey)).nonce, 1);
});

test('a raw hex key gets the public key openssl derives', () => {
  const pem = opensslKey('k2.pem');
  const text = openssl('pkey', '-in', pem, '-text', '-noout').toString();
  const d = text.split('priv:')[1].split('pub:')[0].replace(/[^0-9a-f]/g, '').padStart(64, '0');
  assert.deepEqual(xc.Key.fromHex(d).publicKey, opensslPubkey(pem));
  assert.throws(() => xc.Key.fromHex('00'.repeat(32)));
});

test('signing takes Uint8Array, Buffer and Array alike (sm-crypto 0.3 did not)', () => {
  const key = xc.Key.generate();
  const bytes = wire.txSigningBytes(put(key, 'js/x', 'y'));
  for (const form of [bytes, Buffer.from(bytes), Array.from(bytes)]) {
    assert.ok(xc.verify(key.publicKey, bytes, key.sign(form)));
  }
});

test('many keys sign accepted transactions whatever their leading digits', async () => {
  const txs = Array.from({ length: 40 }, (_, i) => put(xc.Key.generate(), 'js/many', String(i)));
  const ids = await node.submitMany(txs);
  assert.ok(ids.every((id) => typeof id === 'string'), String(ids));
  await node.wait(ids[ids.length - 1]);
});

test('an array answers each element in order and malformed ones carry no id', async () => {
  const key = xc.Key.generate();
  const good = put(key, 'js/arr', '1');
  const forged = { ...put(key, 'js/arr', '2'), signature: good.signature };
  const otherChain = xc.signPut(key, 'another-chain', Buffer.from('js/arr'), Buffer.from('3'));
  const out = await node.submitMany([good, forged, otherChain, { ...good, sender: 'zz' }]);
  assert.equal(out[0], wire.txId(good));
  assert.deepEqual(out.slice(1).map((e) => e.kind), ['bad_signature', 'wrong_chain', 'malformed']);
  assert.equal(out[1].txId, wire.txId(forged));
  assert.equal(out[3].txId, null);
});

test('every error kind a client can cause comes with its status', async () => {
  const key = xc.Key.generate();
  const tx = put(key, 'js/err', 'x');
  await node.submit(tx);
  await rejects(node.submit(tx), 409, ['duplicate', 'replay']);
  await rejects(node.submit({ ...put(key, 'js/err', 'y'), signature: tx.signature }), 400, ['bad_signature']);
  await rejects(node.submit({ ...put(key, 'js/err', 'z'), signature: '0102' }), 400, ['malformed']);
  await rejects(node.submit(xc.signPut(key, 'other', Buffer.from('k'), Buffer.from('v'))), 400, ['wrong_chain']);
  await rejects(node.submitMany([]), 400, ['bad_request']);
  await rejects(node.submitMany(Array(10001).fill({})), 413, ['payload_too_large']);
  await rejects(node.tx('00'.repeat(32)), 404, ['not_found']);
  await rejects(node.tx('xyz'), 400, ['bad_request']);
  await rejects(node.block('99999999999'), 404, ['not_found']);
  await rejects(node.block('+1'), 400, ['bad_request']);
  await rejects(node.state('js/no such key'), 404, ['not_found']);
  await rejects(node.call('GET', '/state/k?encoding=base64'), 400, ['bad_request']);
  await rejects(node.call('PUT', '/tx', {}), 405, ['method_not_allowed']);
  await rejects(node.call('GET', '/no/such/route'), 404, ['not_found']);
  await node.wait(wire.txId(tx));
  await rejects(node.submit(tx), 409, ['replay']);
});

test('hex may be upper case or 0x-prefixed, and a non-UTF-8 value reads as null text', async () => {
  const key = xc.Key.generate();
  const tx = xc.signPut(key, chain, Buffer.from('js/bin'), Buffer.from([0xff, 0xfe]));
  const id = await node.submit({ ...tx, sender: '0x' + tx.sender.toUpperCase(), signature: tx.signature.toUpperCase() });
  await node.wait(id);
  assert.equal((await node.tx('0x' + id.toUpperCase())).status, 'committed');
  const pub = xc.toHex(key.publicKey);
  assert.equal((await node.call('GET', `/account/0x${pub.toUpperCase()}`)).pubkey, pub);
  const rec = await node.state(Buffer.from('js/bin'));
  assert.deepEqual(await node.call('GET', `/state/0x${Buffer.from('js/bin').toString('hex').toUpperCase()}?encoding=hex`), rec);
  assert.equal(rec.value_utf8, null);
  assert.equal(rec.value, 'fffe');
});

test('a compressed sender key is signed in its uncompressed form', async () => {
  const key = xc.Key.generate();
  const tx = put(key, 'js/compressed', '1');
  const compressed = xc.toHex([2 + (key.publicKey[64] & 1), ...key.publicKey.subarray(1, 33)]);
  assert.equal(await node.submit({ ...tx, sender: compressed }), wire.txId(tx));
});

test('a transfer without balance commits with a failed receipt', async () => {
  const [key, to] = [xc.Key.generate(), xc.Key.generate()];
  const done = await node.wait(await node.submit(xc.signTransfer(key, chain, to.publicKey, 5)));
  assert.equal(done.receipt.ok, false);
  assert.match(done.receipt.error, /insufficient balance/);
  assert.equal((await node.account(to.publicKey)).balance, 0);
});

test('a transaction signed by xinlian tx verifies here and commits', async () => {
  const pem = opensslKey('k3.pem');
  const out = execFileSync(BIN, ['tx', 'put', '--key', 'js/cli', '--value', 'v', '--dry-run', '--rpc', URL,
    '--signer', pem], { timeout: 30000 }).toString().trim().split('\n');
  const [body, id] = out.slice(-2);
  const tx = JSON.parse(body);
  assert.equal(wire.txId(tx), id);
  let sig = xc.fromHex(tx.signature);
  if (sig.length !== 64) sig = xc.derToRaw(sig);
  assert.ok(xc.verify(opensslPubkey(pem), wire.txSigningBytes(tx), sig));
  assert.equal(await node.submit(tx), id);
  await node.wait(id);
});

test('openssl signs what this client builds, and verifies what it signs', async () => {
  const pem = opensslKey('k4.pem');
  const key = xc.Key.fromPem(readFileSync(pem, 'ascii'));
  const tx = put(key, 'js/openssl', 'ossl');
  const msg = join(TMP, 'tx.bin');
  writeFileSync(msg, wire.txSigningBytes(tx));
  const sm2 = ['-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678'];
  const der = openssl('pkeyutl', '-sign', ...sm2, '-inkey', pem, '-in', msg);
  await node.wait(await node.submit({ ...tx, signature: der.toString('hex') }));
  const sig = join(TMP, 'sig.der');
  writeFileSync(sig, xc.rawToDer(xc.fromHex(tx.signature)));
  const ok = openssl('pkeyutl', '-verify', ...sm2, '-inkey', pem, '-in', msg, '-sigfile', sig).toString();
  assert.match(ok, /Signature Verified Successfully/);
});

test('a block is verified locally and a tampered one is not', async () => {
  const done = await node.wait(await node.submit(put(xc.Key.generate(), 'js/block', 'b')));
  const block = await node.block(done.height);
  assert.equal(block.hash, done.block_hash);
  xc.verifyBlock(block);
  const sig = xc.fromHex(block.signature);
  sig[63] ^= 1;
  const tampered = [
    { ...block, tx_root: '00'.repeat(32) },
    { ...block, timestamp_ms: block.timestamp_ms + 1 },
    { ...block, txs: block.txs.map((t) => ({ ...t, nonce: t.nonce + 1 })) },
    { ...block, hash: '00'.repeat(32) },
    { ...block, signature: xc.toHex(sig) },
  ];
  for (const bad of tampered) assert.throws(() => xc.verifyBlock(bad));
  xc.verifyBlock(await node.block(0));
});

test('the state root of a block is its writes over the previous root', async () => {
  let key, done, block;
  for (let i = 0; i < 5; i++) { // alone in its block, so the writes are exactly ours
    key = xc.Key.generate();
    done = await node.wait(await node.submit(put(key, 'js/root', 'r')));
    block = await node.block(done.height);
    if (block.tx_count === 1) break;
  }
  assert.equal(block.tx_count, 1);
  const prev = await node.block(done.height - 1);
  const acct = await node.account(key.publicKey);
  const writes = [wire.accountWrite(key.publicKey, acct.balance, acct.nonce), [Buffer.from('djs/root'), Buffer.from('r')]];
  assert.equal(xc.toHex(wire.stateRoot(xc.fromHex(prev.state_root), writes)), block.state_root);
});

test('any content type is taken', async () => {
  const tx = put(xc.Key.generate(), 'js/ctype', 'c');
  const r = await fetch(`${URL}/tx`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(tx) });
  assert.equal(r.status, 202);
});
