"""The node's HTTP API: submit, wait, read, and verify blocks locally. Standard library only."""

import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

from . import keys, wire


class XinlianError(Exception):
    """An error answer: HTTP status, `kind` (README, "Error kinds"), message, and the tx id when
    a refused transaction had one (a malformed one never has)."""

    def __init__(self, status: int, kind: str, message: str, tx_id: str | None = None):
        super().__init__(f"{status} {kind}: {message}")
        self.status, self.kind, self.message, self.tx_id = status, kind, message, tx_id


def sign_put(key: keys.Key, chain_id: str, record_key: bytes, value: bytes, nonce: int | None = None) -> dict:
    """A signed Put transaction's JSON form."""
    return _signed(key, chain_id, nonce, {"type": "put", "key": record_key.hex(), "value": value.hex()})


def sign_transfer(key: keys.Key, chain_id: str, to, amount: int, nonce: int | None = None) -> dict:
    """A signed Transfer transaction's JSON form."""
    return _signed(key, chain_id, nonce, {"type": "transfer", "to": wire.canonical_key(to).hex(), "amount": amount})


def _signed(key: keys.Key, chain_id: str, nonce: int | None, payload: dict) -> dict:
    # A random nonce below 2^53 (JavaScript clients read it as a double): a fresh id per call.
    tx = {"chain_id": chain_id, "nonce": secrets.randbelow(1 << 53) if nonce is None else nonce,
          "sender": key.public_key.hex(), "payload": payload}
    tx["signature"] = key.sign(wire.tx_signing_bytes(tx)).hex()
    return tx


class Client:
    """One node's HTTP API, e.g. Client("http://127.0.0.1:8600")."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url, self.timeout = url.rstrip("/"), timeout

    def _call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {"error": text.decode(errors="replace"), "kind": "internal"}
        # An array's 503 (every element met a full mempool) is still an array answer.
        if isinstance(answer, dict) and "results" in answer:
            return status, answer
        raise XinlianError(status, answer.get("kind", "?"), answer.get("error", ""), answer.get("id"))

    def status(self) -> dict:
        return self._call("GET", "/status")[1]

    def submit(self, tx: dict) -> str:
        """POST one transaction; its id (202), or XinlianError with the refusal's kind."""
        return self._call("POST", "/tx", tx)[1]["id"]

    def submit_many(self, txs: list) -> list:
        """POST an array: per element, in order, its id or an XinlianError (status 0: per element)."""
        _, answer = self._call("POST", "/tx", list(txs))
        return [r["id"] if "status" in r else XinlianError(0, r["kind"], r["error"], r.get("id"))
                for r in answer["results"]]

    def tx(self, tx_id: str) -> dict:
        return self._call("GET", f"/tx/{tx_id}")[1]

    def wait(self, tx_id: str, timeout: float = 30.0) -> dict:
        """Poll until committed; XinlianError kind "rejected" or "timeout" otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.tx(tx_id)
            if answer["status"] == "committed":
                return answer
            if answer["status"] == "rejected":
                raise XinlianError(200, "rejected", answer["reason"], tx_id)
            if time.monotonic() > deadline:
                raise XinlianError(0, "timeout", f"{tx_id} still {answer['status']} after {timeout} s", tx_id)
            time.sleep(0.05)

    def state(self, key) -> dict:
        """A record by key: text (percent-encoded here) or bytes (sent as hex)."""
        if isinstance(key, bytes):
            return self._call("GET", f"/state/{key.hex()}?encoding=hex")[1]
        return self._call("GET", "/state/" + urllib.parse.quote(key, safe=""))[1]

    def block(self, which="latest") -> dict:
        return self._call("GET", f"/block/{which}")[1]

    def account(self, pubkey) -> dict:
        return self._call("GET", f"/account/{wire.canonical_key(pubkey).hex()}")[1]


def verify_block(block: dict) -> None:
    """Check a block from GET /block locally: every tx id, the tx root over them, the hash of
    the header bytes, and the proposer's signature over them. ValueError names what is wrong."""
    ids = []
    for i, tx in enumerate(block["txs"]):
        body = {k: v for k, v in tx.items() if k != "id"}
        if wire.tx_id(body) != tx["id"]:
            raise ValueError(f"tx {i}: id {tx['id']} is not SM3 of its signing bytes")
        ids.append(bytes.fromhex(tx["id"]))
    if len(ids) != block["tx_count"]:
        raise ValueError(f"tx_count {block['tx_count']} but {len(ids)} transactions")
    if wire.merkle_root(ids).hex() != block["tx_root"]:
        raise ValueError("tx_root is not the Merkle root of the tx ids")
    header = wire.header_bytes(block)
    if wire.sm3(header).hex() != block["hash"]:
        raise ValueError("hash is not SM3 of the header bytes")
    if block["height"] == 0:
        return  # genesis is made from the genesis file by every node alike: nobody signs it
    if not keys.verify(wire.canonical_key(block["proposer"]), header, bytes.fromhex(block["signature"])):
        raise ValueError("the proposer's signature does not verify")
