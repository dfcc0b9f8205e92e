//! Building the program of `kernels/cl` for one device, with an on-disk binary cache.
//!
//! Owns: the build options, the cache key (SM3 of the device's identity, the driver version,
//! the options and the whole source), reading and writing cached binaries
//! (`clGetProgramInfo(CL_PROGRAM_BINARIES)` / `clCreateProgramWithBinary`), and the build log
//! in the error when the source does not compile ([`AccelError::Build`], a start-up error,
//! never a lost device). Never: running kernels.
//!
//! Cache folder: `$XINLIAN_CACHE_DIR`, else `$XDG_CACHE_HOME/xinlian`, else
//! `$HOME/.cache/xinlian`; files `opencl-<key>.bin`. A cache that cannot be read or written
//! costs a build from source, never an error; a cached binary the driver refuses is rebuilt
//! from source and overwritten.

use std::path::PathBuf;
use std::time::Instant;

use opencl3::context::Context;
use opencl3::program::Program;
use xinlian_kernels::{cl, sm3};

use super::api;
use super::device::DeviceInfo;
use crate::backend::AccelError;

/// Build options: OpenCL C 1.2, no fast-math (integer code; nothing to relax).
pub(crate) const BUILD_OPTIONS: &str = "-cl-std=CL1.2";

/// Environment variable naming the cache folder.
pub const CACHE_DIR_ENV: &str = "XINLIAN_CACHE_DIR";

/// How the program was obtained, for start-up figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramSource {
    /// Compiled from source (no cache, or a cache miss).
    Compiled,
    /// Loaded from the binary cache.
    Cached,
}

/// The cache folder, if any can be named.
pub fn cache_dir() -> Option<PathBuf> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    non_empty(CACHE_DIR_ENV)
        .or_else(|| non_empty("XDG_CACHE_HOME").map(|p| p.join("xinlian")))
        .or_else(|| non_empty("HOME").map(|p| p.join(".cache").join("xinlian")))
}

/// The cache key of this source on this device.
fn cache_key(device: &DeviceInfo, source: &str) -> String {
    let mut material = Vec::new();
    for part in [&device.platform, &device.name, &device.vendor, &device.version, &device.driver_version] {
        material.extend_from_slice(part.as_bytes());
        material.push(0);
    }
    material.extend_from_slice(BUILD_OPTIONS.as_bytes());
    material.push(0);
    material.extend_from_slice(source.as_bytes());
    sm3::digest(&material).iter().map(|b| format!("{b:02x}")).collect()
}

/// Build (or load) the program for `device` in `context`. Returns it, how it was obtained,
/// and the seconds it took.
pub(crate) fn build(context: &Context, device: &DeviceInfo) -> Result<(Program, ProgramSource, f64), AccelError> {
    build_source(context, device, &cl::program_source(), cache_dir())
}

/// [`build`] for any source, with the cache in `cache` (`None`: no cache).
fn build_source(
    context: &Context,
    device: &DeviceInfo,
    source: &str,
    cache: Option<PathBuf>,
) -> Result<(Program, ProgramSource, f64), AccelError> {
    let start = Instant::now();
    let path = cache.map(|dir| dir.join(format!("opencl-{}.bin", cache_key(device, source))));
    if let Some(binary) = path.as_ref().and_then(|p| std::fs::read(p).ok()) {
        if let Some(program) = from_binary(context, &binary) {
            return Ok((program, ProgramSource::Cached, start.elapsed().as_secs_f64()));
        }
    }
    let mut program = Program::create_from_source(context, source).map_err(api("clCreateProgramWithSource"))?;
    // Any failure of the build is reported as the compiler's own words: the log names the
    // file, line and symbol, which an error code (CL_BUILD_PROGRAM_FAILURE) does not.
    if program.build(context.devices(), BUILD_OPTIONS).is_err() {
        let log = context
            .devices()
            .first()
            .and_then(|&id| program.get_build_log(id).ok())
            .unwrap_or_else(|| "(no build log)".to_string());
        return Err(AccelError::Build { device: device.label(), log });
    }
    if let Some(path) = path {
        store(&program, &path);
    }
    Ok((program, ProgramSource::Compiled, start.elapsed().as_secs_f64()))
}

fn from_binary(context: &Context, binary: &[u8]) -> Option<Program> {
    // SAFETY: the context was created from exactly these devices (its own device list), and
    // the binary is only a byte slice read from the cache: a driver that does not recognise
    // it answers an error (CL_INVALID_BINARY), which we treat as a cache miss.
    let mut program = unsafe { Program::create_from_binary(context, context.devices(), &[binary]) }.ok()?;
    program.build(context.devices(), BUILD_OPTIONS).ok()?;
    Some(program)
}

/// Write the program's binary, atomically (temporary file, then rename); failures are ignored.
fn store(program: &Program, path: &std::path::Path) {
    let Ok(binaries) = program.get_binaries() else { return };
    let Some(binary) = binaries.into_iter().next().filter(|b| !b.is_empty()) else { return };
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, &binary).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_skip::missing_device;

    /// A kernel that does not compile is a start-up error (not a device fault) carrying the
    /// compiler's log, which names the problem.
    #[test]
    fn a_build_failure_returns_the_build_log() {
        let device = match super::super::select(None) {
            Ok(device) => device,
            Err(e) => return missing_device(&format!("no OpenCL device ({e})")),
        };
        let context = Context::from_device(&device.device()).expect("a context on a listed device");
        let source = "__kernel void broken(__global uint *out) { out[0] = undeclared_name; }";
        let err = match build_source(&context, device, source, None) {
            Ok(_) => panic!("a broken kernel built"),
            Err(e) => e,
        };
        assert!(!err.is_device_fault(), "{err}");
        assert!(err.to_string().contains("undeclared_name"), "{err}");
        match err {
            AccelError::Build { device: name, log } => {
                assert_eq!(name, device.label());
                assert!(log.contains("undeclared_name"), "{log}");
            }
            other => panic!("expected AccelError::Build, got {other:?}"),
        }
    }
}
