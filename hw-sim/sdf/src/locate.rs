//! Where the built `libxinlian_sdf_sim.so` is, for tests and tools that load it by path.
//!
//! Owns: the search order below and the fallback build. Never: a silent skip: a library that
//! can be neither found nor built is an error that says what was tried.
//!
//! 1. `$XINLIAN_SDF_SIM_LIB`, when set (the file must exist);
//! 2. the target directory of the running executable (so `CARGO_TARGET_DIR` and the profile
//!    are followed): `<target>/<profile>/deps/` (cargo builds the cdylib there whenever a test
//!    depends on this crate, so it is as fresh as the test) and `<target>/<profile>/`; the newer;
//! 3. else built now: `cargo build -p xinlian-sdf-sim` (with the profile of the running
//!    executable) into that target directory, and looked for again.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// The library's file name.
pub const LIBRARY_FILE: &str = "libxinlian_sdf_sim.so";
/// Environment variable naming the library file to use instead of the built one.
pub const LIBRARY_ENV: &str = "XINLIAN_SDF_SIM_LIB";

fn newest_in(profile_dir: &Path) -> Option<PathBuf> {
    [profile_dir.join("deps").join(LIBRARY_FILE), profile_dir.join(LIBRARY_FILE)]
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p)
}

/// `<target>/<profile>` of the running executable (a test binary lies in its `deps/`).
fn profile_dir() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::Library(format!("where is this executable? {e}")))?;
    let dir = exe.parent().ok_or_else(|| Error::Library(format!("{} has no folder", exe.display())))?;
    Ok(if dir.ends_with("deps") { dir.parent().unwrap_or(dir).to_path_buf() } else { dir.to_path_buf() })
}

/// The built soft card library (see the module docs for where it is looked for).
pub fn built_library() -> Result<PathBuf, Error> {
    if let Some(path) = std::env::var_os(LIBRARY_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Library(format!("{LIBRARY_ENV}={} is not a file", path.display())))
        };
    }
    let profile_dir = profile_dir()?;
    if let Some(found) = newest_in(&profile_dir) {
        return Ok(found);
    }
    build(&profile_dir)?;
    newest_in(&profile_dir).ok_or_else(|| {
        Error::Library(format!(
            "{LIBRARY_FILE} is not in {} even after `cargo build -p xinlian-sdf-sim`; build it and set {LIBRARY_ENV}",
            profile_dir.display()
        ))
    })
}

/// `cargo build -p xinlian-sdf-sim` for the profile whose folder is `profile_dir`.
fn build(profile_dir: &Path) -> Result<(), Error> {
    let target_dir = profile_dir.parent().ok_or_else(|| Error::Library("no target directory".to_string()))?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "-p", "xinlian-sdf-sim", "--profile", &profile])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .map_err(|e| Error::Library(format!("cannot run {}: {e}", Path::new(&cargo).display())))?;
    if !status.success() {
        return Err(Error::Library(format!("`cargo build -p xinlian-sdf-sim --profile {profile}` failed: {status}")));
    }
    Ok(())
}
