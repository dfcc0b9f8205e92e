"""SM2 keys and signatures: keys from OpenSSL PEM files or raw hex, signing with GmSSL.

Signing is GmSSL's (through gmssl-pyx, a C extension with GmSSL statically linked): its nonce k
comes from the operating system's CSPRNG (getrandom / /dev/urandom), never from Python's
`random`. Verification of public data (blocks) also runs in GmSSL."""

import base64
import re
import secrets

import gmssl_pyx

from . import curve

DEFAULT_ID = b"1234567812345678"
# 1.2.156.10197.1.301: the SM2 curve, as OpenSSL names it in a PKCS#8 key.
SM2_CURVE_OID = bytes.fromhex("06082a811ccf5501822d")


def _der_read(data: bytes, pos: int):
    """One DER TLV at pos: (tag, value, next position). Lengths are checked."""
    if pos + 2 > len(data):
        raise ValueError("DER: truncated")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise ValueError("DER: bad length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("DER: truncated")
    return tag, data[pos : pos + length], pos + length


def _der_items(data: bytes):
    pos, out = 0, []
    while pos < len(data):
        tag, value, pos = _der_read(data, pos)
        out.append((tag, value))
    return out


def _ec_private_key(der: bytes):
    """SEC1 ECPrivateKey: (d, public key bytes or None)."""
    tag, body, _ = _der_read(der, 0)
    items = _der_items(body)
    if tag != 0x30 or len(items) < 2 or items[1][0] != 0x04 or len(items[1][1]) > 32:
        raise ValueError("PEM: not an EC private key")
    d = items[1][1].rjust(32, b"\0")
    pub = None
    for t, v in items[2:]:
        if t == 0xA0 and v != SM2_CURVE_OID:
            raise ValueError("PEM: the key is not on the SM2 curve")
        if t == 0xA1:
            _, bits, _ = _der_read(v, 0)
            pub = bits[1:]  # the BIT STRING's first byte counts unused bits (0)
    return d, pub


def _pkcs8(der: bytes):
    tag, body, _ = _der_read(der, 0)
    items = _der_items(body)
    if tag != 0x30 or len(items) < 3 or items[2][0] != 0x04:
        raise ValueError("PEM: not a PKCS#8 private key")
    if SM2_CURVE_OID not in items[1][1]:
        raise ValueError("PEM: the key is not an SM2 key (openssl genpkey -algorithm SM2 makes one)")
    return _ec_private_key(items[2][1])


def _pem_body(text: str, label: str):
    m = re.search(rf"-----BEGIN {label}-----(.*?)-----END {label}-----", text, re.S)
    return base64.b64decode("".join(m.group(1).split())) if m else None


def der_to_raw(sig: bytes) -> bytes:
    """A DER SM2 signature as raw r ‖ s (64 bytes)."""
    tag, body, _ = _der_read(sig, 0)
    items = _der_items(body)
    if tag != 0x30 or len(items) != 2 or any(t != 0x02 for t, _ in items):
        raise ValueError("signature: not DER SEQUENCE { r INTEGER, s INTEGER }")
    return b"".join(int.from_bytes(v, "big").to_bytes(32, "big") for _, v in items)


def raw_to_der(raw: bytes) -> bytes:
    """Raw r ‖ s (64 bytes) as DER."""
    if len(raw) != 64:
        raise ValueError(f"signature: {len(raw)} bytes, raw r ‖ s is 64")

    def integer(b: bytes) -> bytes:
        b = b.lstrip(b"\0") or b"\0"
        if b[0] & 0x80:
            b = b"\0" + b
        return bytes([0x02, len(b)]) + b

    body = integer(raw[:32]) + integer(raw[32:])
    return bytes([0x30, len(body)]) + body


def public_key_of(d: bytes) -> bytes:
    """d·G without Python arithmetic on d: GmSSL signs two random digests, and the public key
    is the one point both signatures recover to (curve.recover_candidates)."""
    common = None
    for _ in range(2):
        digest = secrets.token_bytes(32)
        r, s = _split(der_to_raw(gmssl_pyx.sm2_sign_sm3_digest(d, digest)))
        found = curve.recover_candidates(int.from_bytes(digest, "big"), r, s)
        common = found if common is None else common & found
    if common is None or len(common) != 1:
        raise ValueError("private key: could not derive its public key")
    return curve.encode_point(common.pop())


def _split(raw: bytes):
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def verify(public_key: bytes, message: bytes, raw_sig: bytes, signer_id: bytes = DEFAULT_ID) -> bool:
    """SM2 verification with Z (the default ID) over message, in GmSSL."""
    xy = curve.encode_point(curve.decode_point(public_key))[1:]
    try:
        return bool(gmssl_pyx.sm2_verify(xy, message, raw_to_der(raw_sig), signer_id=signer_id))
    except (gmssl_pyx.InvalidValueError, gmssl_pyx.GmsslInnerError):
        return False


class Key:
    """An SM2 private key and its public key (65 bytes, 04 ‖ x ‖ y)."""

    def __init__(self, d: bytes, public_key: bytes | None = None):
        if len(d) != 32 or not 0 < int.from_bytes(d, "big") < curve.N - 1:
            raise ValueError("private key: must be 32 bytes, 1 <= d < n - 1")
        self._d = d
        pub = public_key_of(d) if public_key is None else public_key
        self.public_key = curve.encode_point(curve.decode_point(pub))
        # A PEM's stored public key is trusted only once a signature verifies under it.
        if public_key is not None and not verify(self.public_key, b"xinlian", self.sign(b"xinlian")):
            raise ValueError("PEM: the stored public key does not belong to the private key")

    @classmethod
    def generate(cls) -> "Key":
        """A fresh key from GmSSL's CSPRNG."""
        xy, d = gmssl_pyx.sm2_key_generate()
        return cls(d, b"\x04" + xy)

    @classmethod
    def from_hex(cls, d_hex: str) -> "Key":
        """The private scalar d as 64 hex digits."""
        return cls(bytes.fromhex(d_hex.removeprefix("0x")))

    @classmethod
    def from_pem(cls, text_or_path: str) -> "Key":
        """A PEM private key as `openssl genpkey -algorithm SM2` writes it (PKCS#8, unencrypted),
        or SEC1 "EC PRIVATE KEY"; the text itself or a file's path."""
        text = text_or_path
        if "-----BEGIN" not in text:
            with open(text_or_path, encoding="ascii") as f:
                text = f.read()
        der = _pem_body(text, "PRIVATE KEY")
        if der is not None:
            return cls(*_pkcs8(der))
        der = _pem_body(text, "EC PRIVATE KEY")
        if der is not None:
            return cls(*_ec_private_key(der))
        if "ENCRYPTED PRIVATE KEY" in text:
            raise ValueError("PEM: encrypted; decrypt it first (openssl pkey -in k.pem -out plain.pem)")
        raise ValueError("PEM: no PRIVATE KEY block")

    def sign(self, message: bytes, signer_id: bytes = DEFAULT_ID) -> bytes:
        """SM2 signature (raw r ‖ s, 64 bytes) of message: e = SM3(Z ‖ message), nonce from the OS."""
        der = gmssl_pyx.sm2_sign(self._d, self.public_key[1:], bytes(message), signer_id=signer_id)
        return der_to_raw(der)

    def __repr__(self) -> str:
        return f"Key(public_key={self.public_key.hex()})"
