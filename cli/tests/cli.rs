//! End-to-end tests of the `xinlian` binary: `verify` against signatures made by the OpenSSL
//! command line (the interop acceptance test), `hash` against `openssl dgst -sm3`, and the
//! command line's own errors (`run`, `--help`, an unknown backend, a missing input file).
//!
//! The OpenSSL tests need `openssl` (3.0 or later) on PATH. Without it they print
//! "skipped: openssl not found" and pass, except when the environment variable `CI` is set:
//! then a missing `openssl` fails them (CI must run the interop test, not skip it).
//!
//! Every OpenSSL command used is written out, exactly as run, next to the code that runs it.
//! Files live in a fresh directory under `std::env::temp_dir()`, removed afterwards.

mod common;

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Plumbing: temp dirs, running the binary, running openssl.
// ---------------------------------------------------------------------------------------------

/// The SM2 group order n.
const N_HEX: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123";

/// The GM/T 0009 default distinguishing ID, what `xinlian verify` uses when a line has no "id".
const DEFAULT_ID: &str = "1234567812345678";

/// A directory under the system temp dir, unique to this process and call, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("xinlian-cli-{}-{tag}-{n}-{nanos}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A path as a command-line argument (temp paths are UTF-8 on every CI we run).
fn arg(path: &Path) -> &str {
    path.to_str().expect("temp path is UTF-8")
}

/// Run `xinlian ARGS`, feeding `stdin` (or nothing: stdin is /dev/null) and capturing both outputs.
fn xinlian<S: AsRef<OsStr>>(args: &[S], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xinlian"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("spawn xinlian");
    // Write stdin from another thread: xinlian writes verdicts while it still reads, and a
    // full stdout pipe must not deadlock against a full stdin pipe.
    let writer = stdin.map(|bytes| {
        let bytes = bytes.to_vec();
        let mut pipe = child.stdin.take().expect("stdin is piped");
        std::thread::spawn(move || pipe.write_all(&bytes))
    });
    let out = child.wait_with_output().expect("wait for xinlian");
    if let Some(w) = writer {
        w.join().expect("stdin writer thread").expect("write xinlian's stdin");
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `openssl` runs. When it does not: fail if `CI` is set, else print why and skip.
fn openssl_available(test: &str) -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        Command::new("openssl").arg("version").stdin(Stdio::null()).output().is_ok_and(|o| o.status.success())
    });
    if found {
        return true;
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(
        !ci,
        "{test}: openssl not found on PATH, and CI is set: the OpenSSL interop test must run in CI \
         (install it: scripts/setup.sh)"
    );
    // Straight to stderr, not eprintln!: the test harness captures eprintln! of passing tests,
    // and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "{test}: skipped: openssl not found (install openssl to run the interop test)");
    false
}

/// Run `openssl ARGS` in `dir`; it must succeed. Returns stdout.
fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output().expect("spawn openssl");
    assert!(
        out.status.success(),
        "openssl {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out.stdout
}

/// Deterministic filler bytes (splitmix64): reproducible runs, no rand crate needed.
fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------------------------
// Big-endian integer arithmetic on byte arrays (enough for r±1, r+n, n-r).
// ---------------------------------------------------------------------------------------------

fn n_bytes() -> [u8; 32] {
    let mut n = [0u8; 32];
    hex::decode_to_slice(N_HEX, &mut n).expect("n is 32 bytes of hex");
    n
}

/// a + b as 33 bytes (a carry byte in front).
fn add(a: &[u8; 32], b: &[u8; 32]) -> [u8; 33] {
    let mut out = [0u8; 33];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i + 1] = sum.to_be_bytes()[1];
        carry = sum >> 8;
    }
    out[0] = carry.to_be_bytes()[1];
    out
}

/// a - b, for a >= b.
fn sub(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = u8::try_from(d).expect("digit in 0..256");
    }
    assert_eq!(borrow, 0, "sub: a < b");
    out
}

fn small(v: u8) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[31] = v;
    out
}

/// a + 1 as 32 bytes (a < n, so it fits).
fn plus_one(a: &[u8; 32]) -> [u8; 32] {
    let sum = add(a, &small(1));
    assert_eq!(sum[0], 0, "r or s + 1 overflowed 256 bits");
    let mut out = [0u8; 32];
    out.copy_from_slice(&sum[1..]);
    out
}

/// A DER INTEGER (minimal, non-negative) holding the big-endian unsigned `value`.
fn der_integer(value: &[u8]) -> Vec<u8> {
    let first = value.iter().position(|&b| b != 0).unwrap_or(value.len().saturating_sub(1));
    let digits = if value.is_empty() { &[0u8][..] } else { &value[first..] };
    let mut content = Vec::with_capacity(digits.len() + 1);
    if digits[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(digits);
    let mut out = vec![0x02, u8::try_from(content.len()).expect("short DER length")];
    out.extend_from_slice(&content);
    out
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from big-endian unsigned values of any length.
fn der_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut body = der_integer(r);
    body.extend_from_slice(&der_integer(s));
    let mut out = vec![0x30, u8::try_from(body.len()).expect("short DER length")];
    out.extend_from_slice(&body);
    out
}

/// Raw 64-byte r ‖ s.
fn raw_sig(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    let mut out = r.to_vec();
    out.extend_from_slice(s);
    out
}

/// r and s out of a DER signature as OpenSSL writes it (short-form lengths, minimal integers).
fn parse_der_sig(der: &[u8]) -> ([u8; 32], [u8; 32]) {
    fn integer(input: &[u8]) -> ([u8; 32], &[u8]) {
        assert_eq!(input[0], 0x02, "DER INTEGER tag");
        let len = usize::from(input[1]);
        let digits = &input[2..2 + len];
        let digits = if digits.len() > 32 { &digits[digits.len() - 32..] } else { digits };
        let mut out = [0u8; 32];
        out[32 - digits.len()..].copy_from_slice(digits);
        (out, &input[2 + len..])
    }
    assert_eq!(der[0], 0x30, "DER SEQUENCE tag");
    assert_eq!(usize::from(der[1]), der.len() - 2, "DER SEQUENCE length");
    let (r, rest) = integer(&der[2..]);
    let (s, rest) = integer(rest);
    assert!(rest.is_empty(), "nothing after s");
    (r, s)
}

// ---------------------------------------------------------------------------------------------
// The vectors: keys, messages and signatures made by openssl; one JSON line per case.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Valid,
    Invalid,
    Malformed,
}

impl Expect {
    fn as_str(self) -> &'static str {
        match self {
            Expect::Valid => "valid",
            Expect::Invalid => "invalid",
            Expect::Malformed => "malformed",
        }
    }
}

/// One input line of `xinlian verify` and what it must answer.
#[derive(Clone, Debug)]
struct Case {
    /// The line, without its newline.
    input: String,
    expect: Expect,
    /// What the case is, for failure messages.
    what: String,
    /// A word the `reason` must contain (for the line-level malformed cases).
    reason_has: Option<&'static str>,
}

struct Key {
    pem: String,
    /// SEC1 uncompressed: 04 ‖ x ‖ y.
    point: [u8; 65],
}

impl Key {
    /// SEC1 compressed: 02 or 03 (y's parity) ‖ x.
    fn compressed(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = 0x02 | (self.point[64] & 1);
        out[1..].copy_from_slice(&self.point[1..33]);
        out
    }
}

/// One JSON input line; `id: None` leaves the field out (xinlian then uses the default ID).
fn json_line(pubkey: &[u8], msg: &[u8], sig: &[u8], id: Option<&str>) -> String {
    let mut v = json!({ "pubkey": hex::encode(pubkey), "msg": hex::encode(msg), "sig": hex::encode(sig) });
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v.to_string()
}

/// Collects the cases. `sig` adds a signature line (no "id" field when `id` is None).
struct Builder {
    cases: Vec<Case>,
}

impl Builder {
    fn line(&mut self, expect: Expect, what: impl Into<String>, input: String) {
        self.cases.push(Case { input, expect, what: what.into(), reason_has: None });
    }

    /// A line whose `reason` must mention `word`.
    fn line_reason(&mut self, what: &str, word: &'static str, input: String) {
        self.cases.push(Case { input, expect: Expect::Malformed, what: what.to_string(), reason_has: Some(word) });
    }

    fn sig(&mut self, expect: Expect, what: impl Into<String>, parts: Parts<'_>) {
        let (pubkey, msg, sig, id) = parts;
        self.line(expect, what, json_line(pubkey, msg, sig, id));
    }
}

/// (pubkey, msg, sig, id) of one signature line.
type Parts<'a> = (&'a [u8], &'a [u8], &'a [u8], Option<&'a str>);

/// Generate an SM2 key with openssl; returns the PEM's file name and the uncompressed point.
fn gen_key(dir: &Path, i: usize) -> Key {
    let pem = format!("k{i}.pem");
    // openssl genpkey -algorithm SM2 -out k{i}.pem
    openssl(dir, &["genpkey", "-algorithm", "SM2", "-out", &pem]);
    // openssl pkey -in k{i}.pem -pubout -outform DER
    // SubjectPublicKeyInfo DER (91 bytes for SM2); its BIT STRING ends with the 65-byte
    // uncompressed point 04 ‖ x ‖ y.
    let spki = openssl(dir, &["pkey", "-in", &pem, "-pubout", "-outform", "DER"]);
    assert_eq!(spki.len(), 91, "SM2 SubjectPublicKeyInfo is 91 bytes: {}", hex::encode(&spki));
    let mut point = [0u8; 65];
    point.copy_from_slice(&spki[spki.len() - 65..]);
    assert_eq!(point[0], 0x04, "uncompressed point prefix");
    Key { pem, point }
}

/// Sign `msg_file` with openssl: SM3 digest, Z computed with `distid` (None: no `-pkeyopt
/// distid:`, which makes OpenSSL use an EMPTY ID, not the GM/T 0009 default).
fn sign(dir: &Path, key: &Key, msg_file: &str, distid: Option<&str>, sig_file: &str) -> Vec<u8> {
    // openssl pkeyutl -sign -in MSG -inkey KEY -rawin -digest sm3 -pkeyopt distid:ID -out SIG
    let opt = distid.map(|id| format!("distid:{id}"));
    let mut args = vec!["pkeyutl", "-sign", "-in", msg_file, "-inkey", &key.pem, "-rawin", "-digest", "sm3"];
    if let Some(opt) = &opt {
        args.extend_from_slice(&["-pkeyopt", opt]);
    }
    args.extend_from_slice(&["-out", sig_file]);
    openssl(dir, &args);
    std::fs::read(dir.join(sig_file)).expect("read signature")
}

/// Ask openssl to verify; true when it says "Signature Verified Successfully".
fn openssl_verifies(dir: &Path, key: &Key, msg_file: &str, distid: Option<&str>, sig_file: &str) -> bool {
    // openssl pkeyutl -verify -in MSG -inkey KEY -rawin -digest sm3 -pkeyopt distid:ID -sigfile SIG
    let opt = distid.map(|id| format!("distid:{id}"));
    let mut args = vec!["pkeyutl", "-verify", "-in", msg_file, "-inkey", &key.pem, "-rawin", "-digest", "sm3"];
    if let Some(opt) = &opt {
        args.extend_from_slice(&["-pkeyopt", opt]);
    }
    args.extend_from_slice(&["-sigfile", sig_file]);
    let out =
        Command::new("openssl").args(&args).current_dir(dir).stdin(Stdio::null()).output().expect("spawn openssl");
    out.status.success() && text(&out.stdout).contains("Signature Verified Successfully")
}

/// The r/s manipulations of one OpenSSL signature (invalid), and DER cut short or extended
/// (malformed).
fn push_rs_variants(b: &mut Builder, pubkey: &[u8], msg: &[u8], der: &[u8], tag: &str) {
    let (r, s) = parse_der_sig(der);
    // Sanity: our re-encoding of OpenSSL's (r, s) is byte-identical to what OpenSSL wrote.
    assert_eq!(der_sig(&r, &s), der, "{tag}: DER re-encoding of openssl's signature");
    let n = n_bytes();
    let zero = [0u8; 32];
    let (r1, s1) = (plus_one(&r), plus_one(&s));
    // r + n and s + n: 257-bit values (with probability 1 - 2^-32), a 33-byte DER INTEGER.
    let (rn, sn) = (add(&r, &n), add(&s, &n));
    let der_rn = der_sig(&rn, &s);
    if rn[0] != 0 {
        assert_eq!(der_rn[3], 33, "{tag}: r+n is a 33-byte DER INTEGER");
    }
    let (n_r, n_s) = (sub(&n, &r), sub(&n, &s));
    let invalid: [(&str, Vec<u8>); 17] = [
        ("r+1 (DER)", der_sig(&r1, &s)),
        ("s+1 (DER)", der_sig(&r, &s1)),
        ("r+1 (raw)", raw_sig(&r1, &s)),
        ("s+1 (raw)", raw_sig(&r, &s1)),
        ("r = 0 (DER)", der_sig(&zero, &s)),
        ("s = 0 (DER)", der_sig(&r, &zero)),
        ("r = 0 (raw)", raw_sig(&zero, &s)),
        ("s = 0 (raw)", raw_sig(&r, &zero)),
        ("r+n (DER, 33-byte INTEGER)", der_rn),
        ("s+n (DER, 33-byte INTEGER)", der_sig(&r, &sn)),
        // Exactly the order: 32 bytes, out of [1, n-1].
        ("r = n (DER)", der_sig(&n, &s)),
        ("s = n (raw)", raw_sig(&r, &n)),
        // In range, but not the signature.
        ("n-r (DER)", der_sig(&n_r, &s)),
        ("n-s (DER)", der_sig(&r, &n_s)),
        ("n-r (raw)", raw_sig(&n_r, &s)),
        ("n-s (raw)", raw_sig(&r, &n_s)),
        ("r and s swapped", der_sig(&s, &r)),
    ];
    for (what, sig) in invalid {
        b.sig(Expect::Invalid, format!("{tag}: {what}"), (pubkey, msg, &sig, None));
    }
    // Truncated DER (never to exactly 64 bytes, which would be read as raw r ‖ s) and DER
    // with a trailing byte: not a signature at all.
    for cut in [der.len() - 1, der.len() - 5, 40, 10, 2, 1] {
        if cut != 64 {
            let what = format!("{tag}: DER truncated to {cut} bytes");
            b.sig(Expect::Malformed, what, (pubkey, msg, &der[..cut], None));
        }
    }
    let mut long = der.to_vec();
    long.push(0);
    if long.len() != 64 {
        b.sig(Expect::Malformed, format!("{tag}: DER + a trailing byte"), (pubkey, msg, &long, None));
    }
}

/// Build every case with openssl. None when openssl is absent (and CI is not set).
fn vectors(test: &str) -> Option<&'static [Case]> {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    if !openssl_available(test) {
        return None;
    }
    Some(CASES.get_or_init(build_vectors).as_slice())
}

fn build_vectors() -> Vec<Case> {
    use Expect::{Invalid, Malformed, Valid};
    let tmp = TempDir::new("vectors");
    let dir = tmp.path();
    let mut b = Builder { cases: Vec::new() };

    // Keys: at least 4, and at least one with an even and one with an odd y, so that the
    // compressed form is tested with both prefixes 02 and 03.
    let mut keys = Vec::new();
    while keys.len() < 4 || (keys.len() < 16 && !(has_parity(&keys, 0) && has_parity(&keys, 1))) {
        keys.push(gen_key(dir, keys.len()));
    }

    // Messages: empty, "abc", 1 KiB of filler.
    let msgs: Vec<(String, Vec<u8>)> = [b"".to_vec(), b"abc".to_vec(), filler(7, 1024)]
        .into_iter()
        .enumerate()
        .map(|(i, m)| (tmp.write(&format!("m{i}.bin"), &m), m))
        .map(|(path, m)| (file_name(&path), m))
        .collect();

    // Valid: every key signs every message with the default ID; each signature is sent as DER
    // and as raw r ‖ s, with the uncompressed and with the compressed key.
    let mut sigs = Vec::new(); // sigs[k][m]: DER from openssl
    for (k, key) in keys.iter().enumerate() {
        let mut row = Vec::new();
        for (m, (msg_file, msg)) in msgs.iter().enumerate() {
            let sig_file = format!("s{k}_{m}.der");
            let der = sign(dir, key, msg_file, Some(DEFAULT_ID), &sig_file);
            if k == 0 && m == 1 {
                // Sanity: openssl verifies its own signature, with the ID it was made with.
                assert!(
                    openssl_verifies(dir, key, msg_file, Some(DEFAULT_ID), &sig_file),
                    "openssl pkeyutl -verify rejects its own signature"
                );
            }
            let (r, s) = parse_der_sig(&der);
            let raw = raw_sig(&r, &s);
            let comp = key.compressed();
            let tag = format!("key {k} (y {}), msg {m} ({} bytes)", parity_name(key), msg.len());
            b.sig(Valid, format!("{tag}: DER, uncompressed key"), (&key.point, msg, &der, None));
            b.sig(Valid, format!("{tag}: raw r||s, uncompressed key"), (&key.point, msg, &raw, None));
            b.sig(Valid, format!("{tag}: DER, compressed key"), (&comp, msg, &der, None));
            b.sig(Valid, format!("{tag}: raw r||s, compressed key"), (&comp, msg, &raw, None));
            row.push(der);
        }
        sigs.push(row);
    }

    // Invalid: flipped message bits, a byte cut (or one byte added to the empty message).
    for (k, key) in keys.iter().enumerate().take(2) {
        for (m, (_, msg)) in msgs.iter().enumerate() {
            let der = &sigs[k][m];
            if msg.is_empty() {
                b.sig(Invalid, format!("key {k}: empty msg + one byte"), (&key.point, b"\0", der, None));
                continue;
            }
            let mut first = msg.clone();
            first[0] ^= 0x01;
            let mut last = msg.clone();
            let end = last.len() - 1;
            last[end] ^= 0x80;
            let shorter = &msg[..end];
            b.sig(Invalid, format!("key {k}, msg {m}: bit 0 flipped"), (&key.point, &first, der, None));
            b.sig(Invalid, format!("key {k}, msg {m}: last bit flipped"), (&key.point, &last, der, None));
            b.sig(Invalid, format!("key {k}, msg {m}: last byte cut"), (&key.point, shorter, der, None));
        }
    }

    // Invalid: r, s manipulated (and malformed: the DER cut or extended), on two signatures.
    push_rs_variants(&mut b, &keys[0].point, &msgs[1].1, &sigs[0][1], "key 0, msg abc");
    push_rs_variants(&mut b, &keys[1].point, &msgs[2].1, &sigs[1][2], "key 1, msg 1 KiB");

    // Invalid: another key's signature (uncompressed and compressed).
    for (m, (_, msg)) in msgs.iter().enumerate() {
        let what = format!("msg {m}: signed by key 0, checked with key 1");
        b.sig(Invalid, what, (&keys[1].point, msg, &sigs[0][m], None));
        let what = format!("msg {m}: signed by key 3, checked with key 2 (compressed)");
        b.sig(Invalid, what, (&keys[2].compressed(), msg, &sigs[3][m], None));
    }

    // Distinguishing IDs. A custom ID: valid only with that exact ID.
    let alice = "alice@example.com";
    let (abc_file, abc) = (&msgs[1].0, &msgs[1].1[..]);
    let k1 = &keys[1];
    let sig_alice = sign(dir, k1, abc_file, Some(alice), "alice.der");
    assert!(
        openssl_verifies(dir, k1, abc_file, Some(alice), "alice.der"),
        "openssl verifies its alice@example.com signature"
    );
    assert!(
        !openssl_verifies(dir, k1, abc_file, Some(DEFAULT_ID), "alice.der"),
        "openssl rejects the alice@example.com signature under the default ID"
    );
    let (ar, as_) = parse_der_sig(&sig_alice);
    let sig_alice_raw = raw_sig(&ar, &as_);
    let p1 = &k1.point[..];
    b.sig(Valid, "ID alice: DER, with id alice", (p1, abc, &sig_alice, Some(alice)));
    b.sig(Valid, "ID alice: raw, compressed key, with id alice", (&k1.compressed(), abc, &sig_alice_raw, Some(alice)));
    b.sig(Invalid, "ID alice: checked with no id (the default)", (p1, abc, &sig_alice, None));
    b.sig(Invalid, "ID alice: checked with id 1234567812345678", (p1, abc, &sig_alice, Some(DEFAULT_ID)));
    b.sig(Invalid, "ID alice: checked with id alice@example.co", (p1, abc, &sig_alice, Some("alice@example.co")));
    b.sig(Invalid, "ID alice: checked with id bob@example.com", (p1, abc, &sig_alice, Some("bob@example.com")));
    b.sig(Invalid, "ID alice: checked with the empty ID", (p1, abc, &sig_alice, Some("")));

    // The empty ID (openssl without -pkeyopt distid:) differs from the default ID.
    let (big_file, big) = (&msgs[2].0, &msgs[2].1[..]);
    let k2 = &keys[2];
    let sig_empty = sign(dir, k2, big_file, None, "empty_id.der");
    assert!(openssl_verifies(dir, k2, big_file, None, "empty_id.der"), "openssl verifies its empty-ID signature");
    assert!(
        !openssl_verifies(dir, k2, big_file, Some(DEFAULT_ID), "empty_id.der"),
        "openssl without -pkeyopt distid: is expected to use the EMPTY ID, not 1234567812345678"
    );
    let p2 = &k2.point[..];
    b.sig(Valid, "empty ID: with id \"\"", (p2, big, &sig_empty, Some("")));
    b.sig(Valid, "empty ID: compressed key, with id \"\"", (&k2.compressed(), big, &sig_empty, Some("")));
    b.sig(Invalid, "empty ID: checked with no id (the default)", (p2, big, &sig_empty, None));
    b.sig(Invalid, "empty ID: checked with id 1234567812345678", (p2, big, &sig_empty, Some(DEFAULT_ID)));
    // ... and the default-ID signature: the explicit default ID is valid, the empty ID is not.
    let k0 = &keys[0];
    let (p0, der0) = (&k0.point[..], &sigs[0][1][..]);
    b.sig(Valid, "default ID: with explicit id 1234567812345678", (p0, abc, der0, Some(DEFAULT_ID)));
    b.sig(Invalid, "default ID: checked with the empty ID", (p0, abc, der0, Some("")));
    // An ID longer than ENTL (its length in bits, 16 bits) can say: 8192 bytes.
    let long_id = "x".repeat(8192);
    b.sig(Malformed, "ID of 8192 bytes (too long)", (p0, abc, der0, Some(&long_id)));

    // Malformed keys.
    let mut off_curve = k0.point;
    off_curve[64] ^= 0x01;
    let mut prefix05 = k0.compressed();
    prefix05[0] = 0x05;
    let mut prefix04 = k0.compressed();
    prefix04[0] = 0x04;
    let mut prefix02_65 = k0.point;
    prefix02_65[0] = 0x02;
    let bad_keys: [(&str, &[u8]); 7] = [
        ("point off the curve (y's last bit flipped)", &off_curve),
        ("33 bytes with prefix 05", &prefix05),
        ("33 bytes with prefix 04", &prefix04),
        ("65 bytes with prefix 02", &prefix02_65),
        ("64 bytes", &k0.point[..64]),
        ("the point at infinity (00)", &[0x00]),
        ("empty", &[]),
    ];
    for (what, key) in bad_keys {
        b.sig(Malformed, format!("key: {what}"), (key, abc, der0, None));
    }

    // Malformed lines; the reason must name what is wrong.
    let good = json_line(p0, abc, der0, None);
    let (pk, msg, sig) = (hex::encode(p0), hex::encode(abc), hex::encode(der0));
    b.line_reason("not JSON", "JSON", "this is not json".to_string());
    b.line_reason("a JSON array", "JSON", "[1, 2, 3]".to_string());
    b.line_reason("JSON cut short", "JSON", good[..good.len() - 1].to_string());
    b.line_reason("missing field sig", "sig", json!({"pubkey": pk, "msg": msg}).to_string());
    b.line_reason("missing field pubkey", "pubkey", json!({"msg": msg, "sig": sig}).to_string());
    let non_hex_msg = json!({"pubkey": pk, "msg": "zz", "sig": sig});
    b.line_reason("msg not hex", "msg", non_hex_msg.to_string());
    let non_hex_sig = json!({"pubkey": pk, "msg": msg, "sig": "0x3045"});
    b.line_reason("sig not hex", "sig", non_hex_sig.to_string());
    let odd_hex_key = json!({"pubkey": "04abc", "msg": msg, "sig": sig});
    b.line_reason("pubkey odd-length hex", "pubkey", odd_hex_key.to_string());
    let number_msg = json!({"pubkey": pk, "msg": 616263, "sig": sig});
    b.line_reason("msg a number", "JSON", number_msg.to_string());
    b.line_reason("empty line", "empty", String::new());
    b.line_reason("blank line", "empty", "   \t ".to_string());
    // Vector files (Wycheproof's among them) carry fields of their own: ignored, judged as usual.
    let annotated = json!({"pubkey": pk, "msg": msg, "sig": sig, "comment": "c", "result": "invalid", "tcId": 7});
    b.line(Valid, "unknown fields comment, result, tcId are ignored", annotated.to_string());
    // A misspelt required field is still a missing one.
    let misspelt = json!({"pubky": pk, "msg": msg, "sig": sig});
    b.line_reason("misspelt field pubky: pubkey is missing", "missing field `pubkey`", misspelt.to_string());
    // The good line again, with a CR before the newline, and last: still valid.
    b.line(Valid, "good line with a CR before the newline", format!("{good}\r"));
    b.line(Valid, "good line after all the bad ones", good);

    b.cases
}

/// A path's last component (openssl runs in the temp dir and gets plain file names).
fn file_name(path: &Path) -> String {
    path.file_name().and_then(OsStr::to_str).expect("a UTF-8 file name").to_string()
}

fn has_parity(keys: &[Key], parity: u8) -> bool {
    keys.iter().any(|k| k.point[64] & 1 == parity)
}

fn parity_name(key: &Key) -> &'static str {
    if key.point[64] & 1 == 0 {
        "even"
    } else {
        "odd"
    }
}

/// The input file's bytes: one line per case, each ending in a newline.
fn input_bytes(cases: &[Case]) -> Vec<u8> {
    let mut out = String::new();
    for c in cases {
        out.push_str(&c.input);
        out.push('\n');
    }
    out.into_bytes()
}

/// Check `xinlian verify`'s output: one line per case, numbered 1..N in order, each with the
/// expected verdict, a non-empty reason exactly for invalid and malformed, and nothing else;
/// exit 0; the counts in the summary on stderr.
fn check_verdicts(cases: &[Case], out: &Output, stdout: &str, run: &str) {
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{run}: exit {}; stderr:\n{stderr}", out.status);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), cases.len(), "{run}: one output line per input line; stderr:\n{stderr}");
    let mut failures = String::new();
    for (i, (line, case)) in lines.iter().zip(cases).enumerate() {
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                let _ = writeln!(failures, "output line {}: not JSON ({e}): {line}", i + 1);
                continue;
            }
        };
        let Some(obj) = v.as_object() else {
            let _ = writeln!(failures, "output line {}: not an object: {line}", i + 1);
            continue;
        };
        let n = u64::try_from(i + 1).expect("line number fits u64");
        if obj.get("line").and_then(Value::as_u64) != Some(n) {
            let _ = writeln!(failures, "output line {n}: \"line\" should be {n}: {line}");
        }
        let verdict = obj.get("verdict").and_then(Value::as_str).unwrap_or("<none>");
        if verdict != case.expect.as_str() {
            let _ = writeln!(failures, "line {n} [{}]: expected {}, got {line}", case.what, case.expect.as_str());
        }
        match (case.expect, obj.get("reason")) {
            (Expect::Valid, None) => {}
            (Expect::Valid, Some(_)) => {
                let _ = writeln!(failures, "line {n} [{}]: a valid verdict has no reason: {line}", case.what);
            }
            (_, Some(Value::String(reason))) if !reason.trim().is_empty() => {
                if let Some(word) = case.reason_has {
                    if !reason.contains(word) {
                        let _ = writeln!(failures, "line {n} [{}]: reason should mention {word:?}: {line}", case.what);
                    }
                }
            }
            (_, _) => {
                let _ = writeln!(failures, "line {n} [{}]: needs a non-empty reason: {line}", case.what);
            }
        }
        let extra: Vec<&String> = obj.keys().filter(|k| !["line", "verdict", "reason"].contains(&k.as_str())).collect();
        if !extra.is_empty() {
            let _ = writeln!(failures, "line {n}: unexpected fields {extra:?}: {line}");
        }
    }
    assert!(failures.is_empty(), "{run}: wrong verdicts:\n{failures}");
    let count = |e: Expect| cases.iter().filter(|c| c.expect == e).count();
    let (valid, invalid, malformed) = (count(Expect::Valid), count(Expect::Invalid), count(Expect::Malformed));
    assert!(valid > 0 && invalid > 0 && malformed > 0);
    for want in
        [format!("verified {} lines", cases.len()), format!("{valid} valid, {invalid} invalid, {malformed} malformed")]
    {
        assert!(stderr.contains(&want), "{run}: summary on stderr should contain {want:?}; stderr:\n{stderr}");
    }
}

// ---------------------------------------------------------------------------------------------
// verify
// ---------------------------------------------------------------------------------------------

#[test]
fn verify_openssl_vectors_from_file() {
    let Some(cases) = vectors("verify_openssl_vectors_from_file") else {
        return;
    };
    let tmp = TempDir::new("verify-file");
    let input = tmp.write("in.jsonl", &input_bytes(cases));
    let out = xinlian(&["verify", "--backend", "cpu", "--input", arg(&input)], None);
    check_verdicts(cases, &out, &text(&out.stdout), "verify --backend cpu --input FILE");
}

#[test]
fn verify_openssl_vectors_from_stdin() {
    let Some(cases) = vectors("verify_openssl_vectors_from_stdin") else {
        return;
    };
    let bytes = input_bytes(cases);
    let out = xinlian(&["verify", "--backend", "cpu"], Some(&bytes));
    check_verdicts(cases, &out, &text(&out.stdout), "verify --backend cpu < FILE");
    let out = xinlian(&["verify", "--input", "-", "--output", "-"], Some(&bytes));
    check_verdicts(cases, &out, &text(&out.stdout), "verify --input - --output - < FILE");
}

#[test]
fn verify_openssl_vectors_threads_and_batches() {
    let Some(cases) = vectors("verify_openssl_vectors_threads_and_batches") else {
        return;
    };
    let tmp = TempDir::new("verify-threads");
    let input = tmp.write("in.jsonl", &input_bytes(cases));
    for extra in [
        &["--threads", "1"][..],
        &["--threads", "2"],
        &["--batch", "3"],
        &["--threads", "1", "--batch", "3"],
        &["--threads", "2", "--batch", "3"],
        &["--threads", "2", "--batch", "1"],
    ] {
        let mut args = vec!["verify", "--backend", "cpu", "--input", arg(&input)];
        args.extend_from_slice(extra);
        let out = xinlian(&args, None);
        check_verdicts(cases, &out, &text(&out.stdout), &args.join(" "));
    }
}

#[test]
fn verify_openssl_vectors_to_output_file() {
    let Some(cases) = vectors("verify_openssl_vectors_to_output_file") else {
        return;
    };
    let tmp = TempDir::new("verify-output");
    let input = tmp.write("in.jsonl", &input_bytes(cases));
    let output = tmp.path().join("out.jsonl");
    tmp.write("out.jsonl", b"stale content that must be replaced\n");
    let out = xinlian(
        &["verify", "--backend", "cpu", "--batch", "7", "--input", arg(&input), "--output", arg(&output)],
        None,
    );
    assert!(out.stdout.is_empty(), "with --output FILE nothing goes to stdout");
    let written = std::fs::read_to_string(&output).expect("read --output file");
    check_verdicts(cases, &out, &written, "verify --output FILE");
}

/// Many lines per chunk (so decoding runs on several threads) and a key seen many times
/// (so the key cache turns hot): the same verdicts, in the same order.
#[test]
fn verify_openssl_vectors_repeated_large_chunks() {
    let Some(cases) = vectors("verify_openssl_vectors_repeated_large_chunks") else {
        return;
    };
    let mut many = Vec::new();
    while many.len() < 600 {
        many.extend_from_slice(cases);
    }
    let tmp = TempDir::new("verify-many");
    let input = tmp.write("in.jsonl", &input_bytes(&many));
    for extra in [&["--threads", "2"][..], &["--threads", "2", "--batch", "200"], &["--threads", "1", "--batch", "129"]]
    {
        let mut args = vec!["verify", "--input", arg(&input)];
        args.extend_from_slice(extra);
        let out = xinlian(&args, None);
        check_verdicts(&many, &out, &text(&out.stdout), &args.join(" "));
    }
}

/// The portable path (`XINLIAN_SM2_IFMA=0`) and the default path (AVX-512 IFMA where the CPU
/// has it) write byte-identical verdicts, and both are the expected ones.
#[test]
fn verify_paths_write_identical_verdicts() {
    let Some(cases) = vectors("verify_paths_write_identical_verdicts") else {
        return;
    };
    let mut many = Vec::new();
    while many.len() < 400 {
        many.extend_from_slice(cases);
    }
    let tmp = TempDir::new("verify-paths");
    let input = tmp.write("in.jsonl", &input_bytes(&many));
    let run = |ifma: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_xinlian"))
            .args(["verify", "--threads", "1", "--input", arg(&input)])
            .env("XINLIAN_SM2_IFMA", ifma)
            .output()
            .expect("run xinlian");
        check_verdicts(&many, &out, &text(&out.stdout), &format!("XINLIAN_SM2_IFMA={ifma}"));
        out.stdout
    };
    assert_eq!(run("0"), run("1"), "the two paths wrote different verdicts");
}

/// `xinlian devices` lists the cpu backend with a passing self-test.
#[test]
fn devices_lists_the_cpu_with_a_passing_self_test() {
    let out = xinlian(&["devices"], None);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "exit {}: {stdout}{}", out.status, text(&out.stderr));
    let mut lines = stdout.lines();
    let cpu = lines.by_ref().find(|l| l.starts_with("cpu: ")).expect("a cpu line");
    assert!(cpu.contains("thread"), "{cpu}");
    assert_eq!(lines.next().map(str::trim), Some("self-test: pass"), "{stdout}");
}

/// Whether an OpenCL device is there; with `CI` set, its absence fails the test (CI installs POCL).
fn opencl_available(test: &str) -> bool {
    let out = xinlian(&["devices"], None);
    let stdout = text(&out.stdout);
    if stdout.lines().any(|l| l.starts_with("opencl:") && !l.starts_with("opencl: ")) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none_or(|v| v.is_empty()),
        "{test}: CI is set but no OpenCL device was found (scripts/setup.sh installs pocl-opencl-icd):\n{stdout}"
    );
    let _ = writeln!(std::io::stderr(), "{test}: skipped: no OpenCL device");
    false
}

/// Issue 3's acceptance: `--backend opencl` gives the right verdict on every line of the
/// OpenSSL-made vector file (on POCL's CPU device here), and `xinlian devices` lists the device
/// with a passing self-test.
#[test]
fn verify_openssl_vectors_on_opencl() {
    let test = "verify_openssl_vectors_on_opencl";
    let Some(cases) = vectors(test) else {
        return;
    };
    if !opencl_available(test) {
        return;
    }
    let devices = text(&xinlian(&["devices"], None).stdout);
    let mut lines = devices.lines();
    assert!(lines.by_ref().any(|l| l.starts_with("opencl:0")), "{devices}");
    assert_eq!(lines.next().map(str::trim), Some("self-test: pass"), "{devices}");

    let tmp = TempDir::new("verify-opencl");
    let input = tmp.write("in.jsonl", &input_bytes(cases));
    for batch in ["4096", "5"] {
        let args = ["verify", "--backend", "opencl", "--device", "0", "--batch", batch, "--input", arg(&input)];
        let out = xinlian(&args, None);
        check_verdicts(cases, &out, &text(&out.stdout), &args.join(" "));
    }
    let out = xinlian(&["verify", "--backend", "opencl", "--device", "no-such-device", "--input", arg(&input)], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no-such-device"), "{}", text(&out.stderr));
}

/// `--backend auto` over a card served with faults (and OpenCL, and the CPU): the right verdict
/// on every line of the OpenSSL-made vector file, and `--stats` names every backend.
#[test]
fn auto_backend_with_a_faulty_card_gives_the_right_verdicts() {
    let test = "auto_backend_with_a_faulty_card_gives_the_right_verdicts";
    let Some(cases) = vectors(test) else {
        return;
    };
    let mut many = Vec::new();
    while many.len() < 1200 {
        many.extend_from_slice(cases);
    }
    let tmp = TempDir::new("verify-auto");
    let input = tmp.write("in.jsonl", &input_bytes(&many));
    let served = common::Served::start(
        "auto",
        &["--profile", "fpga-1m", "--pacing", "fast", "--faults", "corrupt=0.03,drop=0.01,hang=0.01", "--seed", "5"],
    );
    let bar = served.bar.to_string_lossy().into_owned();
    let args = ["verify", "--backend", "auto", "--card", &bar, "--stats", "--batch", "300", "--input", arg(&input)];
    let out = xinlian(&args, None);
    check_verdicts(&many, &out, &text(&out.stdout), &args.join(" "));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("backend shares:") && stderr.contains("card") && stderr.contains("cpu"), "{stderr}");
}

/// Issue 5's acceptance, second half: 20,000 valid signatures through `--backend auto` with a card
/// that corrupts, drops and hangs: every one comes out valid (a corrupted `invalid` is re-checked
/// on the CPU, a dropped or hung batch is redone elsewhere), none lost.
#[test]
fn auto_backend_with_a_faulty_card_keeps_20000_valid_signatures_valid() {
    use sm2::dsa::signature::Signer as _;
    let keys: Vec<sm2::dsa::SigningKey> =
        (1u8..=50).map(|i| sm2::dsa::SigningKey::from_slice("1234567812345678", &[i; 32]).unwrap()).collect();
    let mut input = String::new();
    for i in 0u32..20_000 {
        let key = &keys[i as usize % keys.len()];
        let msg = i.to_be_bytes();
        let sig: sm2::dsa::Signature = key.sign(&msg);
        let pubkey = key.verifying_key().to_sec1_bytes();
        let raw = [sig.r_bytes().as_slice(), sig.s_bytes().as_slice()].concat();
        input.push_str(&json_line(&pubkey, &msg, &raw, None));
        input.push('\n');
    }
    let tmp = TempDir::new("verify-auto-20000");
    let path = tmp.write("in.jsonl", input.as_bytes());
    let served = common::Served::start(
        "auto-20000",
        &["--profile", "fpga-1m", "--pacing", "fast", "--faults", "corrupt=0.03,drop=0.01,hang=0.01", "--seed", "9"],
    );
    let bar = served.bar.to_string_lossy().into_owned();
    let out = xinlian(&["verify", "--backend", "auto", "--card", &bar, "--stats", "--input", arg(&path)], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 20_000, "one verdict per line, none lost");
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["line"], i + 1, "in input order");
        assert_eq!(v["verdict"], "valid", "line {}: {v}", i + 1);
    }
    let stderr = text(&out.stderr);
    assert!(stderr.contains("card"), "{stderr}");
}

/// Issue 4's acceptance: with `xinlian card serve` in another process, `--backend card --card
/// PATH` gives the right verdict on every line of the OpenSSL-made vector file.
#[test]
fn verify_openssl_vectors_on_a_card_served_by_another_process() {
    let Some(cases) = vectors("verify_openssl_vectors_on_a_card_served_by_another_process") else {
        return;
    };
    let tmp = TempDir::new("verify-card");
    let input = tmp.write("in.jsonl", &input_bytes(cases));
    for profile in ["fpga-1m", "pcie-2019"] {
        let served = common::Served::start(&format!("vectors-{profile}"), &["--profile", profile, "--pacing", "fast"]);
        let bar = served.bar.to_string_lossy().into_owned();
        for batch in ["4096", "7"] {
            let args = ["verify", "--backend", "card", "--card", &bar, "--batch", batch, "--input", arg(&input)];
            let out = xinlian(&args, None);
            check_verdicts(cases, &out, &text(&out.stdout), &format!("{profile}: {}", args.join(" ")));
        }
    }
}

/// Issue 4's acceptance: with a card that drops completions, hangs or resets, `--backend card`
/// ends with a clear error or with right verdicts: every line written is right, never a
/// verdict made up from a fault.
#[test]
fn a_faulty_card_gives_a_clear_error_or_right_verdicts() {
    let Some(cases) = vectors("a_faulty_card_gives_a_clear_error_or_right_verdicts") else {
        return;
    };
    let tmp = TempDir::new("verify-faulty-card");
    let input = tmp.write("in.jsonl", &input_bytes(cases));
    for (i, faults) in
        ["drop=0.2", "hang=0.2", "reset=0.2", "drop=0.05,hang=0.05,reset=0.05,status=0.05"].iter().enumerate()
    {
        let seed = (i + 1).to_string();
        let served = common::Served::start(
            &format!("faulty-{i}"),
            &["--profile", "fpga-1m", "--pacing", "fast", "--faults", faults, "--seed", &seed],
        );
        let bar = served.bar.to_string_lossy().into_owned();
        let args = ["verify", "--backend", "card", "--card", &bar, "--batch", "8", "--input", arg(&input)];
        let out = xinlian(&args, None);
        let stdout = text(&out.stdout);
        let stderr = text(&out.stderr);
        if out.status.success() {
            check_verdicts(cases, &out, &stdout, &format!("faults {faults}"));
            continue;
        }
        // Failed: a clear one-line error naming the device problem, and every verdict written
        // before it right.
        assert!(
            stderr.contains("error:")
                && (stderr.contains("timed out") || stderr.contains("lost") || stderr.contains("corrupt")),
            "faults {faults}: unclear error:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "faults {faults}: {stderr}");
        for (n, (line, case)) in stdout.lines().zip(cases).enumerate() {
            let v: Value = serde_json::from_str(line).expect("a JSON verdict line");
            assert_eq!(v["line"].as_u64(), u64::try_from(n + 1).ok(), "faults {faults}: {line}");
            assert_eq!(v["verdict"].as_str(), Some(case.expect.as_str()), "faults {faults}, [{}]: {line}", case.what);
        }
    }
}

/// The last line without a trailing newline is still a line.
#[test]
fn verify_last_line_without_newline() {
    let Some(cases) = vectors("verify_last_line_without_newline") else {
        return;
    };
    let mut bytes = input_bytes(cases);
    assert_eq!(bytes.pop(), Some(b'\n'));
    let out = xinlian(&["verify"], Some(&bytes));
    check_verdicts(cases, &out, &text(&out.stdout), "verify, no final newline");
}

#[test]
fn verify_empty_input() {
    let out = xinlian(&["verify", "--backend", "cpu"], Some(b""));
    assert!(out.status.success(), "empty input: exit {}; {}", out.status, text(&out.stderr));
    assert!(out.stdout.is_empty(), "empty input: no verdict lines");
    assert!(text(&out.stderr).contains("verified 0 lines"), "summary: {}", text(&out.stderr));
}

// ---------------------------------------------------------------------------------------------
// hash
// ---------------------------------------------------------------------------------------------

/// SM3 test vectors from GB/T 32905-2016, appendix A.
const SM3_ABC: &str = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";
const SM3_ABCD16: &str = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732";

/// The messages the hash tests use: empty, "abc", 1000 filler bytes, and the boundaries of
/// one and two SM3 blocks (55, 56, 64, 119, 120, 128 bytes).
fn hash_messages() -> Vec<Vec<u8>> {
    let mut msgs = vec![Vec::new(), b"abc".to_vec(), filler(1000, 1000), b"abcd".repeat(16)];
    for len in [1, 55, 56, 63, 64, 65, 119, 120, 128] {
        msgs.push(filler(u64::try_from(len).expect("fits"), len));
    }
    msgs
}

fn hex_lines(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut s = String::new();
    for m in msgs {
        s.push_str(&hex::encode(m));
        s.push('\n');
    }
    s.into_bytes()
}

#[test]
fn hash_known_answers() {
    let msgs = [b"abc".to_vec(), b"abcd".repeat(16)];
    let out = xinlian(&["hash", "--backend", "cpu"], Some(&hex_lines(&msgs)));
    assert!(out.status.success(), "exit {}: {}", out.status, text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().collect::<Vec<_>>(), [SM3_ABC, SM3_ABCD16]);
}

#[test]
fn hash_matches_openssl_dgst() {
    if !openssl_available("hash_matches_openssl_dgst") {
        return;
    }
    let tmp = TempDir::new("hash");
    let msgs = hash_messages();
    let mut expected = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let name = format!("m{i}.bin");
        tmp.write(&name, m);
        // openssl dgst -sm3 -r m{i}.bin   (prints "DIGEST *m{i}.bin")
        let line = text(&openssl(tmp.path(), &["dgst", "-sm3", "-r", &name]));
        let digest = line.split_whitespace().next().expect("openssl dgst output").to_ascii_lowercase();
        assert_eq!(digest.len(), 64, "openssl dgst -sm3 output: {line}");
        expected.push(digest);
    }
    assert_eq!(expected[1], SM3_ABC, "openssl's SM3(abc)");
    let input = tmp.write("in.hex", &hex_lines(&msgs));
    let out_file = tmp.path().join("out.txt");
    for (how, out) in [
        ("--input FILE", xinlian(&["hash", "--backend", "cpu", "--input", arg(&input)], None)),
        ("stdin", xinlian(&["hash", "--backend", "cpu"], Some(&hex_lines(&msgs)))),
        ("--output FILE", xinlian(&["hash", "--input", arg(&input), "--output", arg(&out_file)], None)),
    ] {
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "hash {how}: exit {}: {stderr}", out.status);
        let stdout = if how == "--output FILE" {
            assert!(out.stdout.is_empty());
            std::fs::read_to_string(&out_file).expect("read hash output file")
        } else {
            text(&out.stdout)
        };
        let got: Vec<&str> = stdout.lines().collect();
        assert_eq!(got, expected, "hash {how}: digests differ from openssl dgst -sm3");
        assert!(stderr.contains(&format!("hashed {} lines", msgs.len())), "hash {how}: summary: {stderr}");
    }
}

#[test]
fn hash_stops_at_a_non_hex_line() {
    // Upper-case hex is hex; "xyz" is not (line 4); the line after it is never hashed.
    let input = format!("616263\n\n{}\nxyz\n616263\n", hex::encode_upper(b"abcd".repeat(16)));
    let out = xinlian(&["hash", "--backend", "cpu"], Some(input.as_bytes()));
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a non-hex line must fail the run; stderr: {stderr}");
    assert!(stderr.contains("line 4"), "the error names the line: {stderr}");
    let empty = "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b";
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        [SM3_ABC, empty, SM3_ABCD16],
        "the digests before the bad line are written, and nothing after it"
    );

    // An odd number of hex digits is not hex either; the first line can be the bad one.
    let out = xinlian(&["hash"], Some(b"abc\n616263\n"));
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "odd-length hex must fail; stderr: {stderr}");
    assert!(stderr.contains("line 1"), "the error names line 1: {stderr}");
    assert!(out.stdout.is_empty(), "no digest before line 1");
}

/// More lines than one internal batch, then a bad line: every digest before it is written.
#[test]
fn hash_stops_at_a_non_hex_line_after_many() {
    let good = 5000;
    let mut input = "616263\n".repeat(good);
    input.push_str("not hex\n616263\n");
    let out = xinlian(&["hash"], Some(input.as_bytes()));
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "stderr: {stderr}");
    assert!(stderr.contains(&format!("line {}", good + 1)), "the error names the line: {stderr}");
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), good, "every digest before the bad line");
    assert!(stdout.lines().all(|l| l == SM3_ABC));
}

// ---------------------------------------------------------------------------------------------
// The command line itself
// ---------------------------------------------------------------------------------------------

#[test]
fn run_explains_its_options() {
    // The node itself is tested in node.rs and crash.rs; here only that its options are there.
    let out = xinlian(&["run", "--help"], None);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in ["--config", "--data", "--listen"] {
        assert!(help.contains(word), "xinlian run --help mentions {word}: {help}");
    }
}

#[test]
fn help_exits_zero() {
    let out = xinlian(&["--help"], None);
    assert!(out.status.success(), "xinlian --help: exit {}", out.status);
    let help = text(&out.stdout);
    for word in ["run", "verify", "hash"] {
        assert!(help.contains(word), "xinlian --help lists {word}: {help}");
    }
    let out = xinlian(&["verify", "--help"], None);
    assert!(out.status.success(), "xinlian verify --help: exit {}", out.status);
    let help = text(&out.stdout);
    for word in ["--backend", "--threads", "--input", "--output", "--batch", "pubkey"] {
        assert!(help.contains(word), "xinlian verify --help mentions {word}: {help}");
    }
    let out = xinlian(&["hash", "--help"], None);
    assert!(out.status.success(), "xinlian hash --help: exit {}", out.status);
    assert!(text(&out.stdout).contains("--input"));
}

#[test]
fn no_subcommand_is_an_error_with_usage() {
    let out = xinlian::<&str>(&[], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("Usage"), "{}", text(&out.stderr));
}

#[test]
fn unknown_backend_lists_the_valid_ones() {
    for sub in ["verify", "hash"] {
        let out = xinlian(&[sub, "--backend", "nosuch"], Some(b""));
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{sub} --backend nosuch must fail");
        assert!(stderr.contains("nosuch"), "{sub}: the error names the bad value: {stderr}");
        assert!(
            stderr.contains("possible values") && stderr.contains("cpu"),
            "{sub}: the error lists the backends: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn missing_input_file_is_named() {
    let tmp = TempDir::new("missing");
    let path = tmp.path().join("no-such-input.jsonl");
    for sub in ["verify", "hash"] {
        let out = xinlian(&[sub, "--input", arg(&path)], None);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{sub} with a missing input must fail");
        assert!(stderr.contains(arg(&path)), "{sub}: the error names the path: {stderr}");
        assert!(!stderr.contains("panicked"), "{sub}: an error, not a panic: {stderr}");
    }
}

/// A copy of the soft SDF card in a folder of its own, with `settings` as its
/// `xinlian-sdf-sim.toml` (a copy reads the file beside it: a card of its own).
fn soft_card(tmp: &TempDir, name: &str, settings: &str) -> PathBuf {
    let built = xinlian_sdf_sim::built_library().expect("the soft card library (cargo builds it with the workspace)");
    let dir = tmp.0.join(name);
    std::fs::create_dir_all(&dir).expect("a folder for the card");
    let lib = dir.join(xinlian_sdf_sim::LIBRARY_FILE);
    std::fs::copy(&built, &lib).expect("a copy of the soft card");
    std::fs::write(dir.join("xinlian-sdf-sim.toml"), settings).expect("the card's settings");
    lib
}

/// Issue 13's acceptance: `--backend sdf` through the dlopen'd soft card judges the
/// OpenSSL-made vector file right, line by line.
#[test]
fn verify_openssl_vectors_through_an_sdf_library() {
    let Some(cases) = vectors("verify_openssl_vectors_through_an_sdf_library") else {
        return;
    };
    let tmp = TempDir::new("verify-sdf");
    let input = tmp.write("in.jsonl", &input_bytes(cases));
    let lib = soft_card(&tmp, "card", "profile = \"fpga-1m\"\n");
    for batch in ["4096", "7"] {
        let args = ["verify", "--backend", "sdf", "--sdf-lib", arg(&lib), "--batch", batch, "--input", arg(&input)];
        let out = xinlian(&args, None);
        check_verdicts(cases, &out, &text(&out.stdout), &args.join(" "));
    }
    // SM3 through SDF_Hash* agrees with the CPU.
    let hashes = tmp.write("h.txt", b"616263\n\n00ff\n");
    let sdf = xinlian(&["hash", "--backend", "sdf", "--sdf-lib", arg(&lib), "--input", arg(&hashes)], None);
    let cpu = xinlian(&["hash", "--input", arg(&hashes)], None);
    assert!(sdf.status.success(), "{}", text(&sdf.stderr));
    assert_eq!(text(&sdf.stdout), text(&cpu.stdout));
}

/// Issue 13's acceptance: with the soft card dropping, hanging, answering undefined codes and
/// flipping answers, `--backend auto` with it gives every verdict right and loses no line.
#[test]
fn auto_backend_with_a_faulty_sdf_card_gives_the_right_verdicts() {
    let test = "auto_backend_with_a_faulty_sdf_card_gives_the_right_verdicts";
    let Some(cases) = vectors(test) else {
        return;
    };
    let mut many = Vec::new();
    while many.len() < 1200 {
        many.extend_from_slice(cases);
    }
    let tmp = TempDir::new("verify-auto-sdf");
    let input = tmp.write("in.jsonl", &input_bytes(&many));
    let settings =
        "profile = \"fpga-1m\"\nfaults = \"corrupt=0.03,drop=0.02,status=0.02,hang=0.005\"\nseed = 9\nhang_ms = 2500\n";
    let lib = soft_card(&tmp, "faulty", settings);
    let args =
        ["verify", "--backend", "auto", "--sdf-lib", arg(&lib), "--stats", "--batch", "300", "--input", arg(&input)];
    let out = xinlian(&args, None);
    check_verdicts(&many, &out, &text(&out.stdout), &args.join(" "));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("backend shares:") && stderr.contains("sdf") && stderr.contains("cpu"), "{stderr}");
}

/// `xinlian devices --sdf-lib` lists the card's DEVICEINFO with a passing self-test, and refuses
/// a stub library that answers OK to everything, saying why.
#[test]
fn devices_lists_an_sdf_card_and_refuses_a_stub() {
    let tmp = TempDir::new("devices-sdf");
    let good = soft_card(&tmp, "good", "serial = \"XL-TEST-42\"\n");
    let stub = soft_card(&tmp, "stub", "stub = true\n");
    let out =
        xinlian(&["devices", "--card", "/nonexistent/bar", "--sdf-lib", arg(&good), "--sdf-lib", arg(&stub)], None);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "a failing device makes the exit status 1:\n{stdout}");
    let good_entry = stdout.split(&format!("sdf:{}", good.display())).nth(1).expect("the good card listed");
    assert!(good_entry.contains("XL-TEST-42"), "{stdout}");
    assert!(good_entry.lines().nth(1).is_some_and(|l| l.contains("self-test: pass")), "{stdout}");
    let stub_entry = stdout.split(&format!("sdf:{}", stub.display())).nth(1).expect("the stub listed");
    let verdict = stub_entry.lines().nth(1).unwrap_or("");
    assert!(verdict.contains("FAIL") && verdict.contains("known-bad"), "{stdout}");
}
