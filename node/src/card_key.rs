//! The node key in a crypto card: `[node] key = "sdf:LIB_PATH#INDEX"`. Blocks are signed by
//! `SDF_InternalSign_ECC` inside the card (accel's `SdfSigner`); the secret never reaches
//! this process. The key's access password is read from `key_password_file` or the
//! environment variable `key_password_env`, never from the command line.

use std::path::{Path, PathBuf};

use xinlian_accel::SdfSigner;
use xinlian_chain::{BlockSigner, ChainError, PublicKey};

use crate::config::NodeSection;
use crate::error::NodeError;

/// A node key held by an SDF card.
pub struct CardKey {
    signer: SdfSigner,
    public: PublicKey,
}

impl std::fmt::Debug for CardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardKey(#{}, {})", self.signer.index(), hex::encode(&self.public[1..9]))
    }
}

/// `sdf:LIB_PATH#INDEX` as (path, index).
fn parse(spec: &str) -> Result<(PathBuf, u32), NodeError> {
    let bad = |why: &str| NodeError::config("node.key", format!("{spec:?}: {why} (expected sdf:LIB_PATH#INDEX)"));
    let rest = spec.strip_prefix("sdf:").ok_or_else(|| bad("only sdf: keys are known"))?;
    let (path, index) = rest.rsplit_once('#').ok_or_else(|| bad("no #INDEX"))?;
    if path.is_empty() {
        return Err(bad("no library path"));
    }
    let index = index.parse::<u32>().map_err(|_| bad("the index is not a number"))?;
    if index == 0 {
        return Err(bad("card key indexes start at 1"));
    }
    Ok((PathBuf::from(path), index))
}

/// A card key's access password from a file: its first line, without the line end. An
/// empty one is refused, naming the file (a card would only answer "wrong password").
pub fn read_password_file(path: &Path) -> Result<Vec<u8>, NodeError> {
    let text = std::fs::read(path).map_err(|source| NodeError::Io { path: path.display().to_string(), source })?;
    let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(NodeError::config(path.display().to_string(), "the password file is empty"));
    }
    Ok(line.to_vec())
}

/// The password, from the file or the environment variable the config names.
fn password(node: &NodeSection) -> Result<Vec<u8>, NodeError> {
    match (&node.key_password_file, &node.key_password_env) {
        (Some(path), None) => read_password_file(path),
        (None, Some(var)) => std::env::var_os(var)
            .map(|v| v.into_encoded_bytes())
            .ok_or_else(|| NodeError::config("node.key_password_env", format!("${var} is not set"))),
        (None, None) => Err(NodeError::config(
            "node.key",
            "a card key needs its access password: set key_password_file or key_password_env",
        )),
        (Some(_), Some(_)) => {
            Err(NodeError::config("node.key_password_file", "give key_password_file or key_password_env, not both"))
        }
    }
}

impl CardKey {
    /// Open the card's library and take the key's access right.
    pub fn open(spec: &str, node: &NodeSection) -> Result<CardKey, NodeError> {
        let (path, index) = parse(spec)?;
        let password = password(node)?;
        let signer = SdfSigner::open(&path, index, &password)?;
        let public = signer.public_key();
        tracing::info!(library = %path.display(), index, pubkey = %hex::encode(public), "node key in a crypto card");
        Ok(CardKey { signer, public })
    }
}

impl BlockSigner for CardKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn try_sign(&self, msg: &[u8]) -> Result<[u8; 64], ChainError> {
        self.signer.sign(msg).map_err(|e| ChainError::Sign(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_specs_are_checked_naming_what_is_wrong() {
        assert_eq!(parse("sdf:/opt/v/libsdf.so#3").unwrap(), (PathBuf::from("/opt/v/libsdf.so"), 3));
        assert_eq!(parse("sdf:a#b#2").unwrap(), (PathBuf::from("a#b"), 2));
        for (spec, word) in [
            ("pkcs11:x#1", "only sdf"),
            ("sdf:lib.so", "no #INDEX"),
            ("sdf:#1", "no library"),
            ("sdf:l#x", "not a number"),
            ("sdf:l#0", "start at 1"),
        ] {
            let e = parse(spec).unwrap_err().to_string();
            assert!(e.contains("node.key") && e.contains(word), "{spec}: {e}");
        }
        let mut node = NodeSection::default();
        assert!(password(&node).unwrap_err().to_string().contains("key_password_file or key_password_env"));
        node.key_password_env = Some("XINLIAN_TEST_SURELY_UNSET_VAR".into());
        assert!(password(&node).unwrap_err().to_string().contains("is not set"));
    }
}
