//! The OpenSSL command line as an independent SM2 verifier: keys and signatures in the DER
//! forms it reads, and `openssl pkeyutl -verify` with the default distinguishing ID.

use std::path::Path;
use std::process::Command;

/// The DER SubjectPublicKeyInfo of an SM2 public key (65 bytes, uncompressed): id-ecPublicKey
/// with the SM2 curve OID 1.2.156.10197.1.301.
pub fn spki_der(pubkey: &[u8; 65]) -> Vec<u8> {
    let mut out = hex::decode("3059301306072a8648ce3d020106082a811ccf5501822d034200").unwrap();
    out.extend_from_slice(pubkey);
    out
}

/// A raw r ‖ s signature as DER `SEQUENCE { r INTEGER, s INTEGER }`.
pub fn sig_der(raw: &[u8; 64]) -> Vec<u8> {
    let int = |v: &[u8]| {
        let v = &v[v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1)..];
        let mut out = vec![0x02];
        let pad = v[0] & 0x80 != 0;
        out.push(u8::try_from(v.len() + usize::from(pad)).unwrap());
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    };
    let body = [int(&raw[..32]), int(&raw[32..])].concat();
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
    out.extend_from_slice(&body);
    out
}

/// Whether `openssl pkeyutl -verify` (SM3 with Z, ID 1234567812345678) accepts `sig` by
/// `pubkey` over `msg`. Files go to `dir`.
pub fn verifies(dir: &Path, pubkey: &[u8; 65], msg: &[u8], sig: &[u8; 64]) -> bool {
    let (key, data, sigf) = (dir.join("ossl-pub.der"), dir.join("ossl-msg.bin"), dir.join("ossl-sig.der"));
    std::fs::write(&key, spki_der(pubkey)).unwrap();
    std::fs::write(&data, msg).unwrap();
    std::fs::write(&sigf, sig_der(sig)).unwrap();
    let out = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"])
        .args(["-pubin", "-keyform", "DER", "-inkey"])
        .arg(&key)
        .arg("-in")
        .arg(&data)
        .arg("-sigfile")
        .arg(&sigf)
        .output()
        .expect("openssl on PATH (scripts/setup.sh installs it)");
    String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully")
}
