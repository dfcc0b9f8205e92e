"""The chain's byte layouts (README, "The client contract"): transaction signing bytes, tx ids,
block header bytes, the tx root, the state root. Integers are big-endian."""

import struct

import gmssl_pyx

from . import curve


def sm3(data: bytes) -> bytes:
    return gmssl_pyx.sm3_hash(bytes(data))


def unhex(s: str, what: str) -> bytes:
    """Hex as the node takes it: either case, an optional 0x prefix."""
    try:
        return bytes.fromhex(s[2:] if s.startswith("0x") else s)
    except ValueError as e:
        raise ValueError(f"{what}: not hex ({e})") from None


def canonical_key(key) -> bytes:
    """A public key (bytes or hex, 65 or 33 bytes) as the 65 bytes the signing bytes carry."""
    raw = unhex(key, "public key") if isinstance(key, str) else bytes(key)
    return curve.encode_point(curve.decode_point(raw))


def put_payload(key: bytes, value: bytes) -> bytes:
    if not 1 <= len(key) <= 1024 or len(value) > 65536:
        raise ValueError("put: key must be 1 to 1024 bytes, value at most 65536")
    return b"\x01" + struct.pack(">H", len(key)) + key + struct.pack(">I", len(value)) + value


def transfer_payload(to, amount: int) -> bytes:
    return b"\x02" + canonical_key(to) + struct.pack(">Q", amount)


def signing_bytes(chain_id: str, nonce: int, sender, payload: bytes) -> bytes:
    """"XLTX" ‖ 01 ‖ len(chain_id):1 ‖ chain_id ‖ nonce:8 ‖ sender:65 ‖ payload."""
    cid = chain_id.encode("ascii")
    if not 1 <= len(cid) <= 64:
        raise ValueError("chain_id: 1 to 64 characters")
    return b"XLTX\x01" + bytes([len(cid)]) + cid + struct.pack(">Q", nonce) + canonical_key(sender) + payload


def payload_of(tx_json: dict) -> bytes:
    """The payload bytes of a transaction's JSON form."""
    p = tx_json["payload"]
    if p["type"] == "put":
        return put_payload(unhex(p["key"], "payload.key"), unhex(p["value"], "payload.value"))
    if p["type"] == "transfer":
        return transfer_payload(p["to"], int(p["amount"]))
    raise ValueError(f"payload type {p['type']!r}: neither put nor transfer")


def tx_signing_bytes(tx_json: dict) -> bytes:
    """The signing bytes of a transaction's JSON form (as POST /tx takes and GET /block shows it)."""
    return signing_bytes(tx_json["chain_id"], int(tx_json["nonce"]), tx_json["sender"], payload_of(tx_json))


def tx_id(tx_json: dict) -> str:
    """SM3 of the signing bytes, hex: the signature is not covered."""
    return sm3(tx_signing_bytes(tx_json)).hex()


def header_bytes(block: dict) -> bytes:
    """"XLBK" ‖ 01 ‖ height:8 ‖ prev_hash:32 ‖ tx_root:32 ‖ state_root:32 ‖ timestamp_ms:8 ‖
    proposer:65 ‖ tx_count:4 (190 bytes)."""
    return (
        b"XLBK\x01"
        + struct.pack(">Q", block["height"])
        + unhex(block["prev_hash"], "prev_hash")
        + unhex(block["tx_root"], "tx_root")
        + unhex(block["state_root"], "state_root")
        + struct.pack(">Q", block["timestamp_ms"])
        + unhex(block["proposer"], "proposer")
        + struct.pack(">I", block["tx_count"])
    )


def merkle_root(leaves: list) -> bytes:
    """leaf = SM3(00 ‖ data), inner = SM3(01 ‖ l ‖ r), an odd last node carried up unchanged,
    no leaves = SM3(empty)."""
    if not leaves:
        return sm3(b"")
    level = [sm3(b"\x00" + leaf) for leaf in leaves]
    while len(level) > 1:
        nxt = [sm3(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def state_root(prev_root: bytes, writes: dict) -> bytes:
    """SM3(02 ‖ prev_root ‖ writes in key order), each write len(key):4 ‖ key ‖ 00 (deleted) or
    len(key):4 ‖ key ‖ 01 ‖ len(value):4 ‖ value. State keys: "d" ‖ record key, "a" ‖ pubkey:65
    (value balance:8 ‖ nonce:8)."""
    out = b"\x02" + prev_root
    for k in sorted(writes):
        v = writes[k]
        out += struct.pack(">I", len(k)) + k
        out += b"\x00" if v is None else b"\x01" + struct.pack(">I", len(v)) + v
    return sm3(out)


def account_write(pubkey, balance: int, nonce: int):
    """The state write of an account: key "a" ‖ pubkey:65, value balance:8 ‖ nonce:8."""
    return b"a" + canonical_key(pubkey), struct.pack(">QQ", balance, nonce)
