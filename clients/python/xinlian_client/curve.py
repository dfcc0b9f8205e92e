"""SM2 curve arithmetic over PUBLIC values only: decompressing keys, recovering a public key
from signatures, checking points. Python integers are not constant time, so nothing here ever
touches a private key or a nonce; signing happens in GmSSL (see keys.py)."""

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)


def on_curve(pt) -> bool:
    x, y = pt
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def add(p1, p2):
    """Affine addition; None is the point at infinity."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return (x3, (lam * (x1 - x3) - y1) % P)


def mul_vartime(k: int, pt):
    """k·pt by double-and-add: variable time, for public scalars only."""
    out = None
    for bit in bin(k % N)[2:]:
        out = add(out, out)
        if bit == "1":
            out = add(out, pt)
    return out


def lift_x(x: int, odd: bool):
    """The point with this x and y of the given parity, or None when x is on no point."""
    y = pow((x * x * x + A * x + B) % P, (P + 1) // 4, P)
    if (y * y - (x * x * x + A * x + B)) % P != 0:
        return None
    return (x, y if (y & 1) == odd else P - y)


def decode_point(sec1: bytes):
    """A SEC1 point (65 bytes 04‖x‖y or 33 bytes 02/03‖x) checked to be on the curve."""
    if len(sec1) == 65 and sec1[0] == 4:
        pt = (int.from_bytes(sec1[1:33], "big"), int.from_bytes(sec1[33:], "big"))
    elif len(sec1) == 33 and sec1[0] in (2, 3):
        pt = lift_x(int.from_bytes(sec1[1:], "big"), sec1[0] == 3)
    else:
        raise ValueError(f"public key: {len(sec1)} bytes, a SEC1 key is 65 (04...) or 33 (02/03...)")
    if pt is None or not on_curve(pt):
        raise ValueError("public key: not a point on the SM2 curve")
    return pt


def encode_point(pt) -> bytes:
    """65 bytes, 04 ‖ x ‖ y: the form the chain names accounts by."""
    return b"\x04" + pt[0].to_bytes(32, "big") + pt[1].to_bytes(32, "big")


def recover_candidates(e: int, r: int, s: int):
    """The public keys under which (r, s) signs the digest e (GB/T 32918.2 turned around):
    k·G = s·G + (s + r)·P and x(k·G) = r - e, so P = (s + r)^-1 (R - s·G) for each R with that x."""
    out = set()
    t_inv = pow((r + s) % N, -1, N)
    minus_sg = mul_vartime(N - s, G)
    for x1 in {(r - e) % N, (r - e) % N + N}:
        if x1 >= P:
            continue
        for odd in (False, True):
            big_r = lift_x(x1, odd)
            if big_r is not None:
                cand = mul_vartime(t_inv, add(big_r, minus_sg))
                if cand is not None:
                    out.add(cand)
    return out
