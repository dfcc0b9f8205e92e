//! Signing-key files (`chain::Signer::from_pem`): PKCS#8 or SEC1 PEM as `openssl genpkey`
//! writes them, read by the node, `xinlian keygen` users and tools. The DER inside is parsed
//! by RustCrypto; what is ours is the choice of format and the errors.
//!
//! Checked: a refusal says why; a key that loads writes back (`to_pem`) to PEM that loads to
//! the same public key.

use xinlian_chain::Signer;

/// One input (not UTF-8: nothing to parse, as key files are read as text).
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Signer::from_pem(text) {
        Ok(signer) => {
            let pem = signer.to_pem().expect("a loaded key writes as PEM");
            let again = Signer::from_pem(&pem).expect("its own PEM loads");
            assert_eq!(again.public_key(), signer.public_key(), "the key changes through its PEM");
        }
        Err(e) => crate::assert_named("key", &e.to_string()),
    }
}
