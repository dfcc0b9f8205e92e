"""xinlian_client against a live node (XINLIAN_URL), with the xinlian binary (XINLIAN_BIN) and the
OpenSSL command line for interop. scripts/check-clients.sh starts the node and runs these."""

import json
import os
import subprocess
import tempfile
import unittest
import urllib.request

import xinlian_client as xc
from xinlian_client import wire

URL = os.environ.get("XINLIAN_URL", "http://127.0.0.1:8600")
BIN = os.environ.get("XINLIAN_BIN", "xinlian")
TMP = tempfile.mkdtemp(prefix="xinlian-py-")


def openssl(*args, data=None) -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True, timeout=30).stdout


def openssl_key(name: str) -> str:
    path = os.path.join(TMP, name)
    openssl("genpkey", "-algorithm", "SM2", "-out", path)
    return path


def openssl_pubkey(pem: str) -> bytes:
    return openssl("pkey", "-in", pem, "-pubout", "-outform", "DER")[-65:]


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = xc.Client(URL)
        cls.chain = cls.node.status()["chain_id"]

    def put(self, key: xc.Key, k: bytes, v: bytes) -> dict:
        return xc.sign_put(key, self.chain, k, v)

    def test_a_key_from_openssl_genpkey_signs_a_record_that_commits_and_reads_back(self):
        pem = openssl_key("k1.pem")
        key = xc.Key.from_pem(pem)
        self.assertEqual(key.public_key, openssl_pubkey(pem))
        tx_id = self.node.submit(self.put(key, b"py/doc 1?#%", "hello 芯链".encode()))
        done = self.node.wait(tx_id)
        self.assertTrue(done["receipt"]["ok"])
        rec = self.node.state("py/doc 1?#%")  # percent-encoded by the client
        self.assertEqual(rec["value_utf8"], "hello 芯链")
        self.assertEqual(self.node.state(b"py/doc 1?#%")["value"], "hello 芯链".encode().hex())
        self.assertEqual(self.node.account(key.public_key)["nonce"], 1)

    def test_a_raw_hex_key_gets_the_public_key_openssl_derives(self):
        pem = openssl_key("k2.pem")
        text = openssl("pkey", "-in", pem, "-text", "-noout").decode()
        priv = text.split("priv:")[1].split("pub:")[0]
        d_hex = "".join(c for c in priv if c in "0123456789abcdef").rjust(64, "0")
        self.assertEqual(xc.Key.from_hex(d_hex).public_key, openssl_pubkey(pem))
        with self.assertRaises(ValueError):
            xc.Key.from_hex("00" * 32)

    def test_many_keys_sign_accepted_transactions_whatever_their_leading_digits(self):
        # gmssl's lstrip("04") trap: keys whose x starts with 0 or 4 must work like any other.
        txs = [self.put(xc.Key.generate(), b"py/many", bytes([i])) for i in range(40)]
        ids = self.node.submit_many(txs)
        self.assertTrue(all(isinstance(i, str) for i in ids), ids)
        self.node.wait(ids[-1])

    def test_an_array_answers_each_element_in_order_and_malformed_ones_carry_no_id(self):
        key = xc.Key.generate()
        good = self.put(key, b"py/arr", b"1")
        forged = dict(self.put(key, b"py/arr", b"2"), signature=good["signature"])
        other_chain = xc.sign_put(key, "another-chain", b"py/arr", b"3")
        bad_hex = dict(good, sender="zz")
        out = self.node.submit_many([good, forged, other_chain, bad_hex])
        self.assertEqual(out[0], wire.tx_id(good))
        self.assertEqual([e.kind for e in out[1:]], ["bad_signature", "wrong_chain", "malformed"])
        self.assertEqual(out[1].tx_id, wire.tx_id(forged))
        self.assertIsNone(out[3].tx_id)

    def test_every_error_kind_a_client_can_cause_comes_with_its_status(self):
        key = xc.Key.generate()
        tx = self.put(key, b"py/err", b"x")
        self.node.submit(tx)
        cases = [
            (lambda: self.node.submit(tx), 409, ("duplicate", "replay")),
            (lambda: self.node.submit(dict(self.put(key, b"py/err", b"y"), signature=tx["signature"])), 400,
             ("bad_signature",)),
            (lambda: self.node.submit(dict(self.put(key, b"py/err", b"z"), signature="0102")), 400, ("malformed",)),
            (lambda: self.node.submit(xc.sign_put(key, "other", b"k", b"v")), 400, ("wrong_chain",)),
            (lambda: self.node.submit(dict(tx, payload={"type": "put", "key": "", "value": ""})), 400, ("malformed",)),
            (lambda: self.node.submit_many([]), 400, ("bad_request",)),
            (lambda: self.node.submit_many([{}] * 10_001), 413, ("payload_too_large",)),
            (lambda: self.node.tx("00" * 32), 404, ("not_found",)),
            (lambda: self.node.tx("xyz"), 400, ("bad_request",)),
            (lambda: self.node.block("99999999999"), 404, ("not_found",)),
            (lambda: self.node.block("+1"), 400, ("bad_request",)),
            (lambda: self.node.state("py/no such key"), 404, ("not_found",)),
            (lambda: self.node._call("GET", "/state/k?encoding=base64"), 400, ("bad_request",)),
            (lambda: self.node._call("PUT", "/tx", {}), 405, ("method_not_allowed",)),
            (lambda: self.node._call("GET", "/no/such/route"), 404, ("not_found",)),
        ]
        for call, status, kinds in cases:
            with self.assertRaises(xc.XinlianError) as err:
                call()
            self.assertEqual(err.exception.status, status, err.exception)
            self.assertIn(err.exception.kind, kinds, err.exception)
        self.node.wait(wire.tx_id(tx))
        with self.assertRaises(xc.XinlianError) as err:
            self.node.submit(tx)
        self.assertEqual((err.exception.status, err.exception.kind), (409, "replay"))
        self.assertEqual(err.exception.tx_id, wire.tx_id(tx))

    def test_hex_may_be_upper_case_or_0x_prefixed_and_non_utf8_values_read_as_null_text(self):
        key = xc.Key.generate()
        tx = self.put(key, b"py/bin", b"\xff\xfe")
        tx = dict(tx, sender="0x" + tx["sender"].upper(), signature=tx["signature"].upper())
        tx_id = self.node.submit(tx)
        self.node.wait(tx_id)
        self.assertEqual(self.node.tx("0x" + tx_id.upper())["status"], "committed")
        pub = key.public_key.hex()
        self.assertEqual(self.node._call("GET", "/account/0x" + pub.upper())[1]["pubkey"], pub)
        rec = self.node.state(b"py/bin")
        self.assertEqual(self.node._call("GET", "/state/0x" + b"py/bin".hex().upper() + "?encoding=hex")[1], rec)
        self.assertIsNone(rec["value_utf8"])
        self.assertEqual(rec["value"], "fffe")

    def test_a_compressed_sender_key_is_signed_in_its_uncompressed_form(self):
        key = xc.Key.generate()
        tx = self.put(key, b"py/compressed", b"1")
        x, y = key.public_key[1:33], key.public_key[33:]
        compressed = bytes([2 + (y[-1] & 1)]) + x
        tx_id = self.node.submit(dict(tx, sender=compressed.hex()))
        self.assertEqual(tx_id, wire.tx_id(tx))

    def test_transfers_and_a_failed_receipt(self):
        key, to = xc.Key.generate(), xc.Key.generate()
        done = self.node.wait(self.node.submit(xc.sign_transfer(key, self.chain, to.public_key, 5)))
        self.assertFalse(done["receipt"]["ok"])
        self.assertIn("insufficient balance", done["receipt"]["error"])
        self.assertEqual(self.node.account(to.public_key)["balance"], 0)

    def test_a_transaction_signed_by_xinlian_tx_verifies_here_and_commits(self):
        pem = openssl_key("k3.pem")
        out = subprocess.run([BIN, "tx", "put", "--key", "py/cli", "--value", "v", "--dry-run", "--rpc", URL,
                              "--signer", pem], capture_output=True, check=True, timeout=30).stdout.decode()
        body, tx_id = out.strip().splitlines()[-2:]
        tx = json.loads(body)
        self.assertEqual(wire.tx_id(tx), tx_id)
        sig = bytes.fromhex(tx["signature"])
        raw = xc.der_to_raw(sig) if sig[0] == 0x30 and len(sig) != 64 else sig
        self.assertTrue(xc.verify(openssl_pubkey(pem), wire.tx_signing_bytes(tx), raw))
        self.assertEqual(self.node.submit(tx), tx_id)
        self.node.wait(tx_id)

    def test_openssl_signs_what_this_client_builds_and_verifies_what_it_signs(self):
        pem = openssl_key("k4.pem")
        key = xc.Key.from_pem(pem)
        tx = self.put(key, b"py/openssl", b"ossl")
        msg = os.path.join(TMP, "tx.bin")
        with open(msg, "wb") as f:
            f.write(wire.tx_signing_bytes(tx))
        sm2 = ["-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"]
        der = openssl("pkeyutl", "-sign", *sm2, "-inkey", pem, "-in", msg)
        by_openssl = dict(tx, signature=der.hex())
        self.node.wait(self.node.submit(by_openssl))
        sig = os.path.join(TMP, "sig.der")
        with open(sig, "wb") as f:
            f.write(xc.raw_to_der(bytes.fromhex(tx["signature"])))
        ok = openssl("pkeyutl", "-verify", *sm2, "-inkey", pem, "-in", msg, "-sigfile", sig)
        self.assertIn(b"Signature Verified Successfully", ok)

    def test_a_block_is_verified_locally_and_a_tampered_one_is_not(self):
        key = xc.Key.generate()
        tx = self.put(key, b"py/block", b"b")
        done = self.node.wait(self.node.submit(tx))
        block = self.node.block(done["height"])
        self.assertEqual(block["hash"], done["block_hash"])
        xc.verify_block(block)
        tampered = [
            dict(block, tx_root="00" * 32),
            dict(block, timestamp_ms=block["timestamp_ms"] + 1),
            dict(block, txs=[dict(t, nonce=t["nonce"] + 1) for t in block["txs"]]),
            dict(block, hash="00" * 32),
        ]
        for bad in tampered:
            with self.assertRaises(ValueError):
                xc.verify_block(bad)
        sig = bytes.fromhex(block["signature"])
        with self.assertRaisesRegex(ValueError, "proposer"):
            xc.verify_block(dict(block, signature=(sig[:63] + bytes([sig[63] ^ 1])).hex(),
                                 hash=block["hash"]))
        xc.verify_block(self.node.block(0))

    def test_the_state_root_of_a_block_is_its_writes_over_the_previous_root(self):
        for _ in range(5):  # alone in its block, so the writes are exactly ours
            key = xc.Key.generate()
            tx = self.put(key, b"py/root", b"r")
            done = self.node.wait(self.node.submit(tx))
            block = self.node.block(done["height"])
            if block["tx_count"] == 1:
                break
        self.assertEqual(block["tx_count"], 1)
        prev = self.node.block(done["height"] - 1)
        acct = self.node.account(key.public_key)
        k, v = wire.account_write(key.public_key, acct["balance"], acct["nonce"])
        writes = {k: v, b"d" + b"py/root": b"r"}
        self.assertEqual(wire.state_root(bytes.fromhex(prev["state_root"]), writes).hex(), block["state_root"])

    def test_any_content_type_is_taken(self):
        tx = self.put(xc.Key.generate(), b"py/ctype", b"c")
        req = urllib.request.Request(URL + "/tx", data=json.dumps(tx).encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 202)


if __name__ == "__main__":
    unittest.main()
