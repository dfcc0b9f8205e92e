//! The soft card's settings: where the file is (see the crate docs for the order), what it may
//! say, and its values checked and resolved ([`Settings`]).
//!
//! Owns: finding the file (beside the loaded library, via `/proc/self/maps`; else
//! `XINLIAN_SDF_SIM_CONFIG`), parsing it with unknown keys refused, resolving the profile, the
//! fault spec and the key file's path. Never: acting on any of it (that is `device`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use xinlian_hw_sim::sdf_abi::FieldLayout;
use xinlian_hw_sim::{FaultConfig, Pacing, Profile, DEFAULT_PROFILE};

use crate::{Error, CONFIG_ENV, CONFIG_FILE_NAME, KEYSTORE_ENV};

/// The file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct File {
    profile: String,
    pacing: String,
    faults: String,
    seed: u64,
    hang_ms: u64,
    layout: FieldLayout,
    stub: bool,
    keystore: Option<PathBuf>,
    serial: String,
}

impl Default for File {
    fn default() -> File {
        File {
            profile: DEFAULT_PROFILE.to_string(),
            pacing: "fast".to_string(),
            faults: "none".to_string(),
            seed: 0,
            // A network HSM library waits up to 60 s before it gives up on a call.
            hang_ms: 60_000,
            layout: FieldLayout::Bytes64,
            stub: false,
            keystore: None,
            serial: "XLSDF-00000001".to_string(),
        }
    }
}

/// The settings of one opened device, checked.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where they came from (a path, or "defaults").
    pub source: String,
    /// The card modelled: engines, cycles per operation, latency.
    pub profile: Profile,
    /// Whether answers wait for their modelled due time.
    pub pacing: Pacing,
    /// Fault rates.
    pub faults: FaultConfig,
    /// Seed of the fault rolls.
    pub seed: u64,
    /// How long a hung call blocks.
    pub hang: Duration,
    /// The struct layout this card reads and writes.
    pub layout: FieldLayout,
    /// Answer `SDR_OK` to everything and compute nothing.
    pub stub: bool,
    /// The key file, if any.
    pub keystore: Option<PathBuf>,
    /// DEVICEINFO's serial.
    pub serial: String,
}

impl Settings {
    /// The settings as the crate docs say they are found.
    pub fn load() -> Result<Settings, Error> {
        let keystore_env = std::env::var_os(KEYSTORE_ENV).map(PathBuf::from);
        match locate() {
            Some(path) => Settings::from_file(&path, keystore_env),
            None => Settings::resolve(File::default(), "defaults".to_string(), None, keystore_env),
        }
    }

    /// The settings in `path`; `keystore_env` overrides the file's `keystore`.
    pub fn from_file(path: &Path, keystore_env: Option<PathBuf>) -> Result<Settings, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        let file: File = toml::from_str(&text)
            .map_err(|e| Error::Config { path: path.display().to_string(), reason: e.to_string() })?;
        Settings::resolve(file, path.display().to_string(), path.parent(), keystore_env)
    }

    fn resolve(
        file: File,
        source: String,
        dir: Option<&Path>,
        keystore_env: Option<PathBuf>,
    ) -> Result<Settings, Error> {
        let bad = |reason: String| Error::Config { path: source.clone(), reason };
        let profile = Profile::by_name_or_file(&file.profile).map_err(|e| bad(format!("profile: {e}")))?;
        let pacing = file.pacing.parse().map_err(|e| bad(format!("pacing: {e}")))?;
        let faults = file.faults.parse().map_err(|e| bad(format!("faults: {e}")))?;
        if file.serial.is_empty() || file.serial.len() > 16 || !file.serial.is_ascii() {
            return Err(bad(format!("serial = {:?}: 1 to 16 ASCII characters (DEVICEINFO's field)", file.serial)));
        }
        if file.hang_ms > 3_600_000 {
            return Err(bad(format!("hang_ms = {}: at most 3600000 (1 h)", file.hang_ms)));
        }
        let keystore = keystore_env.or_else(|| match (file.keystore, dir) {
            (Some(p), Some(dir)) if p.is_relative() => Some(dir.join(p)),
            (p, _) => p,
        });
        Ok(Settings {
            source: source.clone(),
            profile,
            pacing,
            faults,
            seed: file.seed,
            hang: Duration::from_millis(file.hang_ms),
            layout: file.layout,
            stub: file.stub,
            keystore,
            serial: file.serial,
        })
    }
}

/// The settings file: beside this library, else the one `XINLIAN_SDF_SIM_CONFIG` names.
pub fn locate() -> Option<PathBuf> {
    let beside = own_file().and_then(|lib| Some(lib.parent()?.join(CONFIG_FILE_NAME)));
    match beside {
        Some(path) if path.is_file() => Some(path),
        _ => std::env::var_os(CONFIG_ENV).map(PathBuf::from),
    }
}

/// The file this code was loaded from: the mapping in `/proc/self/maps` that holds this
/// function's address (the `.so` when loaded as a library; the executable when linked in).
pub fn own_file() -> Option<PathBuf> {
    let here = own_file as fn() -> Option<PathBuf> as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| mapping_path(line, here))
}

/// The path of a `/proc/self/maps` line (`lo-hi perms offset dev inode path`) if its range
/// holds `addr`.
fn mapping_path(line: &str, addr: usize) -> Option<PathBuf> {
    let (range, rest) = line.split_once(' ')?;
    let (lo, hi) = range.split_once('-')?;
    let (lo, hi) = (usize::from_str_radix(lo, 16).ok()?, usize::from_str_radix(hi, 16).ok()?);
    if !(lo..hi).contains(&addr) {
        return None;
    }
    let path = &rest[rest.find('/')?..];
    Some(PathBuf::from(path.strip_suffix(" (deleted)").unwrap_or(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maps_line_gives_its_path_only_for_an_address_inside() {
        let line = "7f00aa000000-7f00aa100000 r-xp 00000000 08:01 1234                       /tmp/a b/libx.so";
        assert_eq!(mapping_path(line, 0x7f00_aa00_0010), Some(PathBuf::from("/tmp/a b/libx.so")));
        assert_eq!(mapping_path(line, 0x7f00_aa10_0000), None);
        assert_eq!(mapping_path("7f00-7f10 rw-p 00000000 00:00 0", 0x7f01), None);
        assert!(own_file().is_some_and(|p| p.exists()), "{:?}", own_file());
    }

    #[test]
    fn a_file_is_checked_and_names_the_bad_field() {
        let dir = std::env::temp_dir().join(format!("xinlian-sdf-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(CONFIG_FILE_NAME);
        std::fs::write(&path, "profile = \"fpga-1m\"\nfaults = \"drop=0.5\"\nlayout = \"32\"\nkeystore = \"k.toml\"\n")
            .unwrap();
        let s = Settings::from_file(&path, None).unwrap();
        assert_eq!((s.profile.name.as_str(), s.faults.drop, s.layout), ("fpga-1m", 0.5, FieldLayout::Bytes32));
        assert_eq!(s.keystore, Some(dir.join("k.toml")));
        let s = Settings::from_file(&path, Some(PathBuf::from("/elsewhere.toml"))).unwrap();
        assert_eq!(s.keystore, Some(PathBuf::from("/elsewhere.toml")));
        for (text, word) in [("turbo = 1", "turbo"), ("faults = \"melt=1\"", "faults"), ("layout = \"48\"", "48")] {
            std::fs::write(&path, text).unwrap();
            let err = Settings::from_file(&path, None).unwrap_err().to_string();
            assert!(err.contains(word), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
