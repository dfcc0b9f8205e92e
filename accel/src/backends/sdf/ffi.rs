//! A vendor's GM/T 0018 library, loaded: its function table, its one open device, and
//! [`Session`], the safe face of every call xinlian makes.
//!
//! Owns: `dlopen` (through `libloading`), the check that every symbol of the subset is there
//! (all missing ones named at once), the process-wide table of open devices (one per library
//! file: some libraries allow a single open device per process, and the backend and the
//! signer share it), and the raw calls, each with what it assumes in a `SAFETY` note.
//! Never: unloading a library (a hung call may still be running inside it, and some vendors'
//! libraries crash in their destructors), threads, or deciding what a code means to a verdict.
//!
//! Every call's buffers are the standard's full-size structs (132-byte key, 128-byte
//! signature) whatever the configured layout, so a library that reads the other layout reads
//! wrong values, never past a buffer (see `sdf_abi::FieldLayout`).

use std::ffi::{c_uint, c_void};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use libloading::Library;
use xinlian_hw_sim::sdf_abi::{
    self, code_of, DeviceInfo, EccRefPublicKey, EccSignature, FieldLayout, MAX_RANDOM_PER_CALL, SDR_KEYNOTEXIST,
    SDR_OK, SDR_PARDENY, SDR_PRKRERR, SGD_SM2_1, SGD_SM3,
};

use crate::backend::AccelError;

/// The subset's functions, as loaded.
#[derive(Clone, Copy)]
struct Functions {
    open_device: sdf_abi::OpenDeviceFn,
    close_device: sdf_abi::CloseDeviceFn,
    open_session: sdf_abi::OpenSessionFn,
    close_session: sdf_abi::CloseSessionFn,
    get_device_info: sdf_abi::GetDeviceInfoFn,
    generate_random: sdf_abi::GenerateRandomFn,
    get_private_key_access_right: sdf_abi::GetPrivateKeyAccessRightFn,
    release_private_key_access_right: sdf_abi::ReleasePrivateKeyAccessRightFn,
    export_sign_public_key: sdf_abi::ExportSignPublicKeyEccFn,
    internal_sign: sdf_abi::InternalSignEccFn,
    external_verify: sdf_abi::ExternalVerifyEccFn,
    hash_init: sdf_abi::HashInitFn,
    hash_update: sdf_abi::HashUpdateFn,
    hash_final: sdf_abi::HashFinalFn,
}

/// The symbols every library must export.
pub const REQUIRED_SYMBOLS: [&str; 14] = [
    "SDF_OpenDevice",
    "SDF_CloseDevice",
    "SDF_OpenSession",
    "SDF_CloseSession",
    "SDF_GetDeviceInfo",
    "SDF_GenerateRandom",
    "SDF_GetPrivateKeyAccessRight",
    "SDF_ReleasePrivateKeyAccessRight",
    "SDF_ExportSignPublicKey_ECC",
    "SDF_InternalSign_ECC",
    "SDF_ExternalVerify_ECC",
    "SDF_HashInit",
    "SDF_HashUpdate",
    "SDF_HashFinal",
];

/// One SDF call that did not succeed: which function, and what it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    /// The function.
    pub function: &'static str,
    /// The code it returned, or `None` when it returned `SDR_OK` with an impossible answer.
    pub code: Option<u32>,
    /// What was impossible about the answer (empty for a code).
    pub detail: String,
}

impl CallError {
    /// A call that returned `code`.
    pub fn returned(function: &'static str, code: u32) -> CallError {
        CallError { function, code: Some(code), detail: String::new() }
    }

    /// An `SDR_OK` with an answer that cannot be right.
    pub fn answer(function: &'static str, detail: String) -> CallError {
        CallError { function, code: None, detail }
    }

    /// As an error of the library at `path`, in the kinds of [`AccelError::is_device_fault`]:
    /// - a refused key access (no such key, wrong password, no right) while taking the key's
    ///   access right or exporting its public key is `Config`: the operator's index or password
    ///   is wrong, not the device (the same code from any other call is a device fault: a card
    ///   that forgot a right it granted, or a key, has failed);
    /// - any other code the standard defines is `DeviceLost` (a dropped call, a reset card, a
    ///   session the card closed);
    /// - an undefined code or an impossible answer with `SDR_OK` is `Corrupt`.
    ///
    /// A hung call is never a `CallError`: the session pool's watchdog makes it `Timeout`.
    pub fn into_accel(self, path: &Path) -> AccelError {
        let text = format!("SDF {}: {self}", path.display());
        let key_setting = matches!(self.function, "SDF_GetPrivateKeyAccessRight" | "SDF_ExportSignPublicKey_ECC");
        match self.code {
            Some(SDR_KEYNOTEXIST | SDR_PRKRERR | SDR_PARDENY) if key_setting => AccelError::Config(text),
            Some(code) if sdf_abi::code_name(code).is_some() => AccelError::DeviceLost(text),
            _ => AccelError::Corrupt(text),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => {
                let name = sdf_abi::code_name(code).unwrap_or("a code GM/T 0018 does not define");
                write!(f, "{} returned {code:#010x} ({name})", self.function)
            }
            None => write!(f, "{} returned SDR_OK with {}", self.function, self.detail),
        }
    }
}

/// `Ok` for `SDR_OK`, else the call's error.
fn check(function: &'static str, rc: std::ffi::c_int) -> Result<(), CallError> {
    match code_of(rc) {
        SDR_OK => Ok(()),
        code => Err(CallError::returned(function, code)),
    }
}

/// A loaded library (never unloaded: see the module docs).
pub struct SdfLibrary {
    path: PathBuf,
    fns: Functions,
}

/// `name` as a `T`.
///
/// # Safety
/// `T` must be the function pointer type the standard declares for `name`.
unsafe fn symbol<T: Copy>(lib: &Library, name: &str) -> Result<T, AccelError> {
    // SAFETY: the caller gives the C signature of `name` as T; the library stays loaded forever.
    let sym = unsafe { lib.get::<T>(name.as_bytes()) };
    sym.map(|s| *s).map_err(|e| AccelError::Config(format!("SDF symbol {name}: {e}")))
}

impl SdfLibrary {
    /// A file that does not load or lacks a symbol is `Config`: the operator named a file that
    /// is not an SDF library; no device has been asked anything.
    fn load(path: &Path) -> Result<SdfLibrary, AccelError> {
        let fail = |why: String| AccelError::Config(format!("SDF library {}: {why}", path.display()));
        // SAFETY: loading runs the library's initialisers. It is the vendor's SDF library the
        // operator named in the config, loaded exactly as any SDF client loads it.
        let lib = unsafe { Library::new(path) }.map_err(|e| fail(format!("cannot load: {e}")))?;
        let missing: Vec<&str> = REQUIRED_SYMBOLS
            .into_iter()
            // SAFETY: only whether the name resolves is asked; the address is never used.
            .filter(|name| unsafe { lib.get::<*const c_void>(name.as_bytes()) }.is_err())
            .collect();
        if !missing.is_empty() {
            return Err(fail(format!("not an SDF library: it lacks {}", missing.join(", "))));
        }
        // SAFETY: each of the fourteen types is the datasheet's declaration of its name.
        let fns = unsafe {
            Functions {
                open_device: symbol(&lib, "SDF_OpenDevice")?,
                close_device: symbol(&lib, "SDF_CloseDevice")?,
                open_session: symbol(&lib, "SDF_OpenSession")?,
                close_session: symbol(&lib, "SDF_CloseSession")?,
                get_device_info: symbol(&lib, "SDF_GetDeviceInfo")?,
                generate_random: symbol(&lib, "SDF_GenerateRandom")?,
                get_private_key_access_right: symbol(&lib, "SDF_GetPrivateKeyAccessRight")?,
                release_private_key_access_right: symbol(&lib, "SDF_ReleasePrivateKeyAccessRight")?,
                export_sign_public_key: symbol(&lib, "SDF_ExportSignPublicKey_ECC")?,
                internal_sign: symbol(&lib, "SDF_InternalSign_ECC")?,
                external_verify: symbol(&lib, "SDF_ExternalVerify_ECC")?,
                hash_init: symbol(&lib, "SDF_HashInit")?,
                hash_update: symbol(&lib, "SDF_HashUpdate")?,
                hash_final: symbol(&lib, "SDF_HashFinal")?,
            }
        };
        // Never unloaded (see the module docs): the function pointers stay valid for the process.
        std::mem::forget(lib);
        Ok(SdfLibrary { path: path.to_path_buf(), fns })
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A device handle: process-wide, used from any thread.
struct DeviceHandle(*mut c_void);

// SAFETY: GM/T 0018 device handles are process-wide: sessions are opened on them from any
// thread. This crate passes the handle only to SDF_OpenSession and, once, SDF_CloseDevice.
unsafe impl Send for DeviceHandle {}
// SAFETY: as above; the handle is never dereferenced here, only passed back to the library.
unsafe impl Sync for DeviceHandle {}

/// The open device of one library; closed when the last user lets go.
pub struct SdfDevice {
    library: &'static SdfLibrary,
    handle: DeviceHandle,
}

/// Loaded libraries (leaked on purpose) and their open devices, by canonical path.
struct Loaded {
    path: PathBuf,
    library: &'static SdfLibrary,
    device: Weak<SdfDevice>,
}

static LOADED: Mutex<Vec<Loaded>> = Mutex::new(Vec::new());

impl SdfDevice {
    /// The open device of the library at `path`: loaded and opened on first use, shared after.
    /// A path that is not there, or not an SDF library, is `Config`; a device that the library
    /// does not open is what its code says ([`CallError::into_accel`]).
    pub fn open(path: &Path) -> Result<Arc<SdfDevice>, AccelError> {
        let canonical = std::fs::canonicalize(path)
            .map_err(|e| AccelError::Config(format!("SDF library {}: {e}", path.display())))?;
        let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        let at = match loaded.iter().position(|l| l.path == canonical) {
            Some(at) => at,
            None => {
                let library: &'static SdfLibrary = Box::leak(Box::new(SdfLibrary::load(&canonical)?));
                loaded.push(Loaded { path: canonical, library, device: Weak::new() });
                loaded.len() - 1
            }
        };
        if let Some(device) = loaded[at].device.upgrade() {
            return Ok(device);
        }
        let library = loaded[at].library;
        let mut handle = std::ptr::null_mut();
        // SAFETY: the standard's contract: the library writes a handle into the pointer given.
        let rc = unsafe { (library.fns.open_device)(&raw mut handle) };
        check("SDF_OpenDevice", rc).map_err(|e| e.into_accel(library.path()))?;
        let device = Arc::new(SdfDevice { library, handle: DeviceHandle(handle) });
        loaded[at].device = Arc::downgrade(&device);
        Ok(device)
    }

    /// The library.
    pub fn library(&self) -> &'static SdfLibrary {
        self.library
    }
}

impl Drop for SdfDevice {
    fn drop(&mut self) {
        // SAFETY: the handle came from SDF_OpenDevice and every session on it is closed (each
        // Session holds an Arc of this device). The code is of no use at this point.
        let _ = unsafe { (self.library.fns.close_device)(self.handle.0) };
    }
}

/// One session: opened, used and closed on one thread (a raw pointer keeps it `!Send`), as
/// GM/T 0018 sessions hold per-thread state (a hash in progress, key access rights).
pub struct Session {
    device: Arc<SdfDevice>,
    handle: *mut c_void,
    layout: FieldLayout,
}

fn len32(n: usize) -> Result<c_uint, CallError> {
    c_uint::try_from(n).map_err(|_| CallError::answer("(length)", format!("{n} bytes do not fit an unsigned int")))
}

impl Session {
    /// Open a session on `device`, speaking `layout`.
    pub fn open(device: &Arc<SdfDevice>, layout: FieldLayout) -> Result<Session, CallError> {
        let mut handle = std::ptr::null_mut();
        // SAFETY: the device handle is open; the library writes a session handle into ours.
        let rc = unsafe { (device.library.fns.open_session)(device.handle.0, &raw mut handle) };
        check("SDF_OpenSession", rc)?;
        Ok(Session { device: Arc::clone(device), handle, layout })
    }

    fn fns(&self) -> &Functions {
        &self.device.library.fns
    }

    /// `SDF_GetDeviceInfo`.
    pub fn device_info(&self) -> Result<DeviceInfo, CallError> {
        let mut info = DeviceInfo::default();
        // SAFETY: an open session and a DEVICEINFO-sized, aligned struct to write into.
        let rc = unsafe { (self.fns().get_device_info)(self.handle, &raw mut info) };
        check("SDF_GetDeviceInfo", rc).map(|()| info)
    }

    /// `SDF_ExternalVerify_ECC` over e: the raw code (the caller decides what it means).
    pub fn external_verify(&self, key: &EccRefPublicKey, e: &[u8; 32], sig: &EccSignature) -> u32 {
        let (mut key, mut e, mut sig) = (*key, *e, *sig);
        // SAFETY: an open session; full-size key and signature structs and 32 bytes of e, all
        // locals that outlive the call (the C signature takes non-const pointers; SDF only reads).
        let rc = unsafe {
            (self.fns().external_verify)(self.handle, SGD_SM2_1, &raw mut key, e.as_mut_ptr(), 32, &raw mut sig)
        };
        code_of(rc)
    }

    /// SM3 of `msg` with `SDF_HashInit` / `SDF_HashUpdate` (pieces of at most `piece` bytes,
    /// never an empty one) / `SDF_HashFinal`.
    pub fn sm3(&self, msg: &[u8], piece: usize) -> Result<[u8; 32], CallError> {
        // SAFETY: an open session; no key and no ID (null, 0): plain SM3.
        let rc = unsafe { (self.fns().hash_init)(self.handle, SGD_SM3, std::ptr::null_mut(), std::ptr::null_mut(), 0) };
        check("SDF_HashInit", rc)?;
        for part in msg.chunks(piece.max(1)) {
            let len = len32(part.len())?;
            // SAFETY: `part` is `len` readable bytes (non-empty: chunks never yields an empty
            // slice); the library only reads them, during the call.
            let rc = unsafe { (self.fns().hash_update)(self.handle, part.as_ptr().cast_mut(), len) };
            check("SDF_HashUpdate", rc)?;
        }
        let mut digest = [0u8; 32];
        let mut len: c_uint = 0;
        // SAFETY: 32 writable bytes for the digest (SM3's size) and a c_uint for its length.
        let rc = unsafe { (self.fns().hash_final)(self.handle, digest.as_mut_ptr(), &raw mut len) };
        check("SDF_HashFinal", rc)?;
        if len != 32 {
            return Err(CallError::answer("SDF_HashFinal", format!("a digest length of {len} (SM3 has 32)")));
        }
        Ok(digest)
    }

    /// `SDF_GetPrivateKeyAccessRight`.
    pub fn get_access_right(&self, index: u32, password: &[u8]) -> Result<(), CallError> {
        let len = len32(password.len())?;
        // SAFETY: an open session; `len` readable password bytes (the library only reads them).
        let rc =
            unsafe { (self.fns().get_private_key_access_right)(self.handle, index, password.as_ptr().cast_mut(), len) };
        check("SDF_GetPrivateKeyAccessRight", rc)
    }

    /// `SDF_ReleasePrivateKeyAccessRight`.
    pub fn release_access_right(&self, index: u32) -> Result<(), CallError> {
        // SAFETY: an open session; no pointers.
        let rc = unsafe { (self.fns().release_private_key_access_right)(self.handle, index) };
        check("SDF_ReleasePrivateKeyAccessRight", rc)
    }

    /// `SDF_ExportSignPublicKey_ECC`: (x, y).
    pub fn export_sign_public_key(&self, index: u32) -> Result<([u8; 32], [u8; 32]), CallError> {
        let mut key = EccRefPublicKey::default();
        // SAFETY: an open session and a full-size ECCrefPublicKey to write into.
        let rc = unsafe { (self.fns().export_sign_public_key)(self.handle, index, &raw mut key) };
        check("SDF_ExportSignPublicKey_ECC", rc)?;
        self.layout.key_coordinates(&key).ok_or_else(|| {
            CallError::answer(
                "SDF_ExportSignPublicKey_ECC",
                format!("a key that is not 256-bit in the {}-byte layout", self.layout),
            )
        })
    }

    /// `SDF_InternalSign_ECC` over e: (r, s).
    pub fn internal_sign(&self, index: u32, e: &[u8; 32]) -> Result<([u8; 32], [u8; 32]), CallError> {
        let mut e = *e;
        let mut sig = EccSignature::default();
        // SAFETY: an open session; 32 readable bytes of e and a full-size ECCSignature to write.
        let rc = unsafe { (self.fns().internal_sign)(self.handle, index, e.as_mut_ptr(), 32, &raw mut sig) };
        check("SDF_InternalSign_ECC", rc)?;
        self.layout.signature_scalars(&sig).ok_or_else(|| {
            CallError::answer(
                "SDF_InternalSign_ECC",
                format!("a signature wider than 256 bits in the {}-byte layout", self.layout),
            )
        })
    }

    /// `SDF_GenerateRandom`, asked in pieces of at most 256 bytes (some libraries take no more).
    pub fn generate_random(&self, out: &mut [u8]) -> Result<(), CallError> {
        for piece in out.chunks_mut(MAX_RANDOM_PER_CALL) {
            let len = len32(piece.len())?;
            // SAFETY: an open session; `len` writable bytes.
            let rc = unsafe { (self.fns().generate_random)(self.handle, len, piece.as_mut_ptr()) };
            check("SDF_GenerateRandom", rc)?;
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: the handle came from SDF_OpenSession on this device and is closed once, here.
        // A failure to close leaves nothing to do (the session is abandoned either way).
        let _ = unsafe { (self.fns().close_session)(self.handle) };
    }
}
