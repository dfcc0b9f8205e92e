//! The soft card's key store: SM2 signing keys by index, each behind an access password.
//!
//! Owns: the file format, making a file ([`create`]), reading one ([`KeyStore::load`]: every
//! secret must give the public key written beside it) and checking a password. Never: signing
//! (that is `crypto`) or access rights (a session's, in `device`).
//!
//! ```toml
//! # written by xinlian_sdf_sim::keystore::create; a simulated card's keys, not a safe place
//! [[keys]]
//! index = 1
//! public_key = "04..."                 # SEC1 uncompressed, hex
//! secret = "..."                        # the private scalar, hex (this is a simulation)
//! password_salt = "..."                 # 16 random bytes, hex
//! password_sm3 = "..."                  # SM3(salt ‖ password), hex
//! ```

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use serde::Deserialize;

use crate::crypto::{self, Hash};
use crate::Error;

/// Longest password accepted, bytes.
pub const MAX_PASSWORD: usize = 256;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    index: u32,
    public_key: String,
    secret: String,
    password_salt: String,
    password_sm3: String,
}

/// A key to put in a new key store.
#[derive(Clone, Copy, Debug)]
pub struct NewKey<'a> {
    /// Its index (1 or more, as cards number them).
    pub index: u32,
    /// The access password `SDF_GetPrivateKeyAccessRight` will ask for.
    pub password: &'a [u8],
    /// The private scalar to import; `None` draws a fresh one.
    pub secret: Option<[u8; 32]>,
}

/// A key as the store lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Its index.
    pub index: u32,
    /// Its public key, SEC1 uncompressed.
    pub public_key: [u8; 65],
}

/// One key, loaded.
#[derive(Clone)]
pub(crate) struct StoredKey {
    pub(crate) secret: [u8; 32],
    pub(crate) public_key: [u8; 65],
    salt: [u8; 16],
    password_sm3: [u8; 32],
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey").field("public_key", &hex::encode(self.public_key)).finish_non_exhaustive()
    }
}

fn password_digest(salt: &[u8; 16], password: &[u8]) -> [u8; 32] {
    let mut h = Hash::new();
    h.update(salt);
    h.update(password);
    h.finish()
}

impl StoredKey {
    /// Whether `password` opens this key (compared without an early exit).
    pub(crate) fn password_matches(&self, password: &[u8]) -> bool {
        let got = password_digest(&self.salt, password);
        got.iter().zip(&self.password_sm3).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// The keys of one card.
#[derive(Clone, Debug, Default)]
pub struct KeyStore {
    keys: BTreeMap<u32, StoredKey>,
}

fn bad(msg: String) -> Error {
    Error::KeyStore(msg)
}

fn unhex<const N: usize>(index: u32, field: &str, text: &str) -> Result<[u8; N], Error> {
    let bytes = hex::decode(text).map_err(|e| bad(format!("key {index}: {field}: {e}")))?;
    bytes.try_into().map_err(|_| bad(format!("key {index}: {field}: expected {N} bytes of hex")))
}

impl KeyStore {
    /// No keys.
    pub fn empty() -> KeyStore {
        KeyStore::default()
    }

    /// Read a key file; every entry is checked (hex, lengths, the secret gives the public key).
    pub fn load(path: &Path) -> Result<KeyStore, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        let file: KeyFile = toml::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        let mut keys = BTreeMap::new();
        for entry in file.keys {
            let i = entry.index;
            let key = StoredKey {
                secret: unhex(i, "secret", &entry.secret)?,
                public_key: unhex(i, "public_key", &entry.public_key)?,
                salt: unhex(i, "password_salt", &entry.password_salt)?,
                password_sm3: unhex(i, "password_sm3", &entry.password_sm3)?,
            };
            if crypto::public_key(&key.secret).ok() != Some(key.public_key) {
                return Err(bad(format!("key {i}: the secret does not give public_key")));
            }
            if keys.insert(i, key).is_some() {
                return Err(bad(format!("key {i} listed twice")));
            }
        }
        Ok(KeyStore { keys })
    }

    /// The key at `index`.
    pub(crate) fn get(&self, index: u32) -> Option<&StoredKey> {
        self.keys.get(&index)
    }

    /// Every key, by index.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.keys.iter().map(|(&index, k)| KeyInfo { index, public_key: k.public_key }).collect()
    }
}

/// Fill `buf` from the OS's random source.
pub(crate) fn os_random(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

fn fresh_secret() -> Result<[u8; 32], Error> {
    loop {
        let mut secret = [0u8; 32];
        os_random(&mut secret).map_err(|source| Error::Io { path: "/dev/urandom".to_string(), source })?;
        // Rejection sampling: a draw of 0 or at least n (probability about 2^-32) is drawn again.
        if crypto::public_key(&secret).is_ok() {
            return Ok(secret);
        }
    }
}

fn entry(key: &NewKey<'_>) -> Result<(KeyEntry, KeyInfo), Error> {
    let i = key.index;
    if i == 0 {
        return Err(bad("index 0: key indices start at 1".to_string()));
    }
    if key.password.is_empty() || key.password.len() > MAX_PASSWORD {
        return Err(bad(format!("key {i}: the password must be 1 to {MAX_PASSWORD} bytes")));
    }
    let secret = match key.secret {
        Some(s) => s,
        None => fresh_secret()?,
    };
    let public_key =
        crypto::public_key(&secret).map_err(|_| bad(format!("key {i}: the secret is 0 or not below n")))?;
    let mut salt = [0u8; 16];
    os_random(&mut salt).map_err(|source| Error::Io { path: "/dev/urandom".to_string(), source })?;
    let e = KeyEntry {
        index: i,
        public_key: hex::encode(public_key),
        secret: hex::encode(secret),
        password_salt: hex::encode(salt),
        password_sm3: hex::encode(password_digest(&salt, key.password)),
    };
    Ok((e, KeyInfo { index: i, public_key }))
}

/// The file's text (hex and integers only: nothing to escape).
fn render(file: &KeyFile) -> String {
    file.keys
        .iter()
        .map(|k| {
            format!(
                "\n[[keys]]\nindex = {}\npublic_key = \"{}\"\nsecret = \"{}\"\npassword_salt = \"{}\"\npassword_sm3 = \"{}\"\n",
                k.index, k.public_key, k.secret, k.password_salt, k.password_sm3
            )
        })
        .collect()
}

/// Write a new key file at `path` (mode 0600) holding `keys`; an existing file is never
/// overwritten. Returns each key's public key, by index.
pub fn create(path: &Path, keys: &[NewKey<'_>]) -> Result<Vec<KeyInfo>, Error> {
    let mut file = KeyFile::default();
    let mut infos = Vec::with_capacity(keys.len());
    for key in keys {
        if infos.iter().any(|k: &KeyInfo| k.index == key.index) {
            return Err(bad(format!("key {} listed twice", key.index)));
        }
        let (e, info) = entry(key)?;
        file.keys.push(e);
        infos.push(info);
    }
    let text = render(&file);
    let io = |source| Error::Io { path: path.display().to_string(), source };
    let mut out = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    out.write_all(b"# xinlian-sdf-sim key store: a simulated card's keys (secrets in hex), not a safe place\n")
        .and_then(|()| out.write_all(text.as_bytes()))
        .and_then(|()| out.sync_all())
        .map_err(io)?;
    Ok(infos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_created_store_loads_and_checks_passwords() {
        let dir = std::env::temp_dir().join(format!("xinlian-sdf-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.toml");
        let _ = std::fs::remove_file(&path);
        let made = create(
            &path,
            &[
                NewKey { index: 1, password: b"123456", secret: None },
                NewKey { index: 7, password: b"pw", secret: Some([7u8; 32]) },
            ],
        )
        .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let store = KeyStore::load(&path).unwrap();
        assert_eq!(store.list(), made);
        assert_eq!(made[1].public_key, crypto::public_key(&[7u8; 32]).unwrap());
        assert!(store.get(1).unwrap().password_matches(b"123456"));
        assert!(!store.get(1).unwrap().password_matches(b"123457"));
        assert!(store.get(2).is_none());
        // Never overwritten; bad requests are refused naming what is wrong.
        assert!(matches!(create(&path, &[]), Err(Error::Io { .. })));
        let other = dir.join("other.toml");
        for (keys, word) in [
            (vec![NewKey { index: 0, password: b"x", secret: None }], "index 0"),
            (vec![NewKey { index: 2, password: b"", secret: None }], "password"),
            (vec![NewKey { index: 2, password: b"x", secret: Some([0; 32]) }], "not below n"),
        ] {
            let err = create(&other, &keys).unwrap_err().to_string();
            assert!(err.contains(word), "{err}");
        }
        // A tampered file is refused.
        let text = std::fs::read_to_string(&path).unwrap().replacen("secret = \"", "secret = \"00", 1);
        std::fs::write(&other, text).unwrap();
        assert!(KeyStore::load(&other).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
