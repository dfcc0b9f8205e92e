//! The C ABI: every `SDF_*` function of the subset, and two of the soft card's own
//! (`XINLIAN_SDF_SIM_*`, which no vendor library has and no SDF client needs).
//!
//! Owns: raw pointers and handles. Each export checks its pointers (null is `SDR_INARGERR` for
//! an input, `SDR_OUTARGERR` for an output), reads exactly as many bytes as the configured
//! layout says (so a 68-byte key of the 32-byte layout is never over-read), runs the call inside
//! `catch_unwind` (a panic is `SDR_UNKNOWERR`: no panic ever crosses into C), and writes outputs
//! only on success. In `stub` mode every session call answers `SDR_OK` and writes nothing.
//! Never: a call's meaning (that is `ops`).

#![allow(non_snake_case, reason = "the standard's C names")]

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use xinlian_hw_sim::sdf_abi::{
    self, rc_of, DeviceInfo, EccRefPublicKey, EccSignature, FieldLayout, SDR_INARGERR, SDR_OK, SDR_OPENDEVICE,
    SDR_OUTARGERR, SDR_UNKNOWERR,
};
use xinlian_hw_sim::FaultConfig;

use crate::device::{self, Session};

// The exports have exactly the C signatures the datasheet declares (a mismatch does not compile).
const _: sdf_abi::OpenDeviceFn = SDF_OpenDevice;
const _: sdf_abi::CloseDeviceFn = SDF_CloseDevice;
const _: sdf_abi::OpenSessionFn = SDF_OpenSession;
const _: sdf_abi::CloseSessionFn = SDF_CloseSession;
const _: sdf_abi::GetDeviceInfoFn = SDF_GetDeviceInfo;
const _: sdf_abi::GenerateRandomFn = SDF_GenerateRandom;
const _: sdf_abi::GetPrivateKeyAccessRightFn = SDF_GetPrivateKeyAccessRight;
const _: sdf_abi::ReleasePrivateKeyAccessRightFn = SDF_ReleasePrivateKeyAccessRight;
const _: sdf_abi::ExportSignPublicKeyEccFn = SDF_ExportSignPublicKey_ECC;
const _: sdf_abi::InternalSignEccFn = SDF_InternalSign_ECC;
const _: sdf_abi::ExternalVerifyEccFn = SDF_ExternalVerify_ECC;
const _: sdf_abi::HashInitFn = SDF_HashInit;
const _: sdf_abi::HashUpdateFn = SDF_HashUpdate;
const _: sdf_abi::HashFinalFn = SDF_HashFinal;

/// Run one call; its `Err` code, or `SDR_UNKNOWERR` for a panic, is what C sees.
fn guard(call: impl FnOnce() -> Result<(), u32>) -> c_int {
    // AssertUnwindSafe: the state a call may leave half-changed lives behind mutexes whose
    // values are valid between statements (see device::lock).
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(())) => rc_of(SDR_OK),
        Ok(Err(code)) => rc_of(code),
        Err(_) => rc_of(SDR_UNKNOWERR),
    }
}

/// Run a call on the session behind `handle` (none in stub mode: `SDR_OK`, nothing written).
fn on_session(handle: *mut c_void, call: impl FnOnce(&Session) -> Result<(), u32>) -> c_int {
    guard(|| {
        let session = device::session(handle.addr())?;
        if session.device.settings.stub {
            return Ok(());
        }
        call(&session)
    })
}

fn handle_of(id: usize) -> *mut c_void {
    std::ptr::without_provenance_mut(id)
}

/// Store `value` at `out`.
///
/// # Safety
/// `out` is null or valid for writing one `T` (it need not be aligned).
unsafe fn write_out<T>(out: *mut T, value: T) -> Result<(), u32> {
    if out.is_null() {
        return Err(SDR_OUTARGERR);
    }
    // SAFETY: not null, and valid for one T by the caller's contract.
    unsafe { out.write_unaligned(value) };
    Ok(())
}

/// The `len` bytes at `data` (empty for length 0, whatever the pointer).
///
/// # Safety
/// `data` is null or valid for reading `len` bytes for the duration of the call.
unsafe fn input<'a>(data: *const u8, len: c_uint) -> Result<&'a [u8], u32> {
    let len = usize::try_from(len).map_err(|_| SDR_INARGERR)?;
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(SDR_INARGERR);
    }
    // SAFETY: not null, `len` readable bytes by the caller's contract, not written during the call.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The first `len` bytes at `src` as a `T` whose other bytes are those of `T::default()`.
///
/// # Safety
/// `src` is null or valid for reading `len` bytes; `len <= size_of::<T>()`; `T` is plain bytes.
unsafe fn read_prefix<T: Default>(src: *const T, len: usize) -> Result<T, u32> {
    if src.is_null() {
        return Err(SDR_INARGERR);
    }
    let mut value = T::default();
    // SAFETY: `len` bytes readable at src (caller), and `len` fits in `value`, a local T.
    unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), (&raw mut value).cast::<u8>(), len) };
    Ok(value)
}

/// Write the first `len` bytes of `value` to `dst`.
///
/// # Safety
/// `dst` is null or valid for writing `len` bytes; `len <= size_of::<T>()`.
unsafe fn write_prefix<T>(dst: *mut T, value: &T, len: usize) -> Result<(), u32> {
    if dst.is_null() {
        return Err(SDR_OUTARGERR);
    }
    // SAFETY: `len` bytes of `value` are readable (len fits T) and writable at dst (caller).
    unsafe { std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), dst.cast::<u8>(), len) };
    Ok(())
}

/// Read a public key of `layout` at `key`.
///
/// # Safety
/// `key` is null or points to the layout's `ECCrefPublicKey` (132 or 68 bytes).
unsafe fn read_key(key: *const EccRefPublicKey, layout: FieldLayout) -> Result<EccRefPublicKey, u32> {
    // SAFETY: the layout's length is what the caller's struct holds; it fits EccRefPublicKey.
    unsafe { read_prefix(key, layout.public_key_len()) }
}

/// Open the device; its settings and keys are read now (see the crate docs).
///
/// # Safety
/// `phDeviceHandle` is null or valid for writing a `void*`.
#[no_mangle]
pub unsafe extern "C" fn SDF_OpenDevice(phDeviceHandle: *mut *mut c_void) -> c_int {
    guard(|| {
        if phDeviceHandle.is_null() {
            return Err(SDR_OUTARGERR);
        }
        let id = device::open_device()?;
        // SAFETY: not null; valid for a `void*` by the contract above.
        unsafe { write_out(phDeviceHandle, handle_of(id)) }
    })
}

/// Close the device and its sessions.
///
/// # Safety
/// None beyond the C signature: the handle is only compared, never dereferenced.
#[no_mangle]
pub unsafe extern "C" fn SDF_CloseDevice(hDeviceHandle: *mut c_void) -> c_int {
    guard(|| device::close_device(hDeviceHandle.addr()))
}

/// Open a session.
///
/// # Safety
/// `phSessionHandle` is null or valid for writing a `void*`.
#[no_mangle]
pub unsafe extern "C" fn SDF_OpenSession(hDeviceHandle: *mut c_void, phSessionHandle: *mut *mut c_void) -> c_int {
    guard(|| {
        if phSessionHandle.is_null() {
            return Err(SDR_OUTARGERR);
        }
        let id = device::open_session(hDeviceHandle.addr())?;
        // SAFETY: not null; valid for a `void*` by the contract above.
        unsafe { write_out(phSessionHandle, handle_of(id)) }
    })
}

/// Close a session.
///
/// # Safety
/// None beyond the C signature: the handle is only looked up, never dereferenced.
#[no_mangle]
pub unsafe extern "C" fn SDF_CloseSession(hSessionHandle: *mut c_void) -> c_int {
    guard(|| device::close_session(hSessionHandle.addr()))
}

/// What the device is.
///
/// # Safety
/// `pstDeviceInfo` is null or valid for writing a `DEVICEINFO` (100 bytes).
#[no_mangle]
pub unsafe extern "C" fn SDF_GetDeviceInfo(hSessionHandle: *mut c_void, pstDeviceInfo: *mut DeviceInfo) -> c_int {
    on_session(hSessionHandle, |s| {
        let info = s.device.info();
        drop(s.state()?);
        // SAFETY: null or a DEVICEINFO by the contract above.
        unsafe { write_out(pstDeviceInfo, info) }
    })
}

/// Random bytes, at most 256 a call.
///
/// # Safety
/// `pucRandom` is null or valid for writing `uiLength` bytes.
#[no_mangle]
pub unsafe extern "C" fn SDF_GenerateRandom(
    hSessionHandle: *mut c_void,
    uiLength: c_uint,
    pucRandom: *mut u8,
) -> c_int {
    on_session(hSessionHandle, |s| {
        let mut buf = vec![0u8; usize::try_from(uiLength).map_err(|_| SDR_INARGERR)?];
        if pucRandom.is_null() && !buf.is_empty() {
            return Err(SDR_OUTARGERR);
        }
        s.generate_random(&mut buf)?;
        if !buf.is_empty() {
            // SAFETY: not null; `uiLength` (= buf.len()) writable bytes by the contract above.
            unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), pucRandom, buf.len()) };
        }
        Ok(())
    })
}

/// Take the access right of key `uiKeyIndex` in this session.
///
/// # Safety
/// `pucPassword` is null or valid for reading `uiPwdLength` bytes.
#[no_mangle]
pub unsafe extern "C" fn SDF_GetPrivateKeyAccessRight(
    hSessionHandle: *mut c_void,
    uiKeyIndex: c_uint,
    pucPassword: *mut u8,
    uiPwdLength: c_uint,
) -> c_int {
    on_session(hSessionHandle, |s| {
        // SAFETY: null or `uiPwdLength` readable bytes by the contract above.
        let password = unsafe { input(pucPassword, uiPwdLength) }?;
        s.get_access_right(uiKeyIndex, password)
    })
}

/// Give back the access right of key `uiKeyIndex`.
///
/// # Safety
/// None beyond the C signature.
#[no_mangle]
pub unsafe extern "C" fn SDF_ReleasePrivateKeyAccessRight(hSessionHandle: *mut c_void, uiKeyIndex: c_uint) -> c_int {
    on_session(hSessionHandle, |s| s.release_access_right(uiKeyIndex))
}

/// The public key of signing key `uiKeyIndex`.
///
/// # Safety
/// `pucPublicKey` is null or valid for writing the layout's `ECCrefPublicKey`.
#[no_mangle]
pub unsafe extern "C" fn SDF_ExportSignPublicKey_ECC(
    hSessionHandle: *mut c_void,
    uiKeyIndex: c_uint,
    pucPublicKey: *mut EccRefPublicKey,
) -> c_int {
    on_session(hSessionHandle, |s| {
        let key = s.export_sign_public_key(uiKeyIndex)?;
        // SAFETY: null or the layout's struct by the contract above.
        unsafe { write_prefix(pucPublicKey, &key, s.layout().public_key_len()) }
    })
}

/// Sign e (`uiDataLength` = 32) with key `uiISKIndex`, whose access right this session holds.
///
/// # Safety
/// `pucData` is null or valid for reading `uiDataLength` bytes; `pucSignature` is null or valid
/// for writing the layout's `ECCSignature`.
#[no_mangle]
pub unsafe extern "C" fn SDF_InternalSign_ECC(
    hSessionHandle: *mut c_void,
    uiISKIndex: c_uint,
    pucData: *mut u8,
    uiDataLength: c_uint,
    pucSignature: *mut EccSignature,
) -> c_int {
    on_session(hSessionHandle, |s| {
        if pucSignature.is_null() {
            return Err(SDR_OUTARGERR);
        }
        // SAFETY: null or `uiDataLength` readable bytes by the contract above.
        let e = unsafe { input(pucData, uiDataLength) }?;
        let sig = s.internal_sign(uiISKIndex, e)?;
        // SAFETY: not null; the layout's struct by the contract above.
        unsafe { write_prefix(pucSignature, &sig, s.layout().signature_len()) }
    })
}

/// Verify a signature over e (`uiInputLength` = 32) with an external public key.
///
/// # Safety
/// `pucPublicKey` and `pucSignature` are null or point to the layout's structs; `pucDataInput`
/// is null or valid for reading `uiInputLength` bytes.
#[no_mangle]
pub unsafe extern "C" fn SDF_ExternalVerify_ECC(
    hSessionHandle: *mut c_void,
    uiAlgID: c_uint,
    pucPublicKey: *mut EccRefPublicKey,
    pucDataInput: *mut u8,
    uiInputLength: c_uint,
    pucSignature: *mut EccSignature,
) -> c_int {
    on_session(hSessionHandle, |s| {
        let layout = s.layout();
        // SAFETY: null or the layout's ECCrefPublicKey, by the contract above.
        let key = unsafe { read_key(pucPublicKey, layout) }?;
        // SAFETY: null or the layout's ECCSignature (which fits EccSignature), by the contract.
        let sig = unsafe { read_prefix(pucSignature.cast_const(), layout.signature_len()) }?;
        // SAFETY: null or `uiInputLength` readable bytes, by the contract above.
        let e = unsafe { input(pucDataInput, uiInputLength) }?;
        s.external_verify(uiAlgID, &key, e, &sig)
    })
}

/// Start a hash: plain SM3 (`pucPublicKey` null), or SM3 after Z of the key and ID.
///
/// # Safety
/// `pucPublicKey` is null or points to the layout's `ECCrefPublicKey`; `pucID` is null or valid
/// for reading `uiIDLength` bytes.
#[no_mangle]
pub unsafe extern "C" fn SDF_HashInit(
    hSessionHandle: *mut c_void,
    uiAlgID: c_uint,
    pucPublicKey: *mut EccRefPublicKey,
    pucID: *mut u8,
    uiIDLength: c_uint,
) -> c_int {
    on_session(hSessionHandle, |s| {
        let key = if pucPublicKey.is_null() {
            None
        } else {
            // SAFETY: not null; the layout's struct by the contract above.
            Some(unsafe { read_key(pucPublicKey, s.layout()) }?)
        };
        // SAFETY: null or `uiIDLength` readable bytes by the contract above.
        let id = unsafe { input(pucID, uiIDLength) }?;
        s.hash_init(uiAlgID, key.as_ref(), id)
    })
}

/// Absorb `uiDataLength` bytes (at least 1).
///
/// # Safety
/// `pucData` is null or valid for reading `uiDataLength` bytes.
#[no_mangle]
pub unsafe extern "C" fn SDF_HashUpdate(hSessionHandle: *mut c_void, pucData: *mut u8, uiDataLength: c_uint) -> c_int {
    on_session(hSessionHandle, |s| {
        // SAFETY: null or `uiDataLength` readable bytes by the contract above.
        let data = unsafe { input(pucData, uiDataLength) }?;
        s.hash_update(data)
    })
}

/// The digest (32 bytes) and its length.
///
/// # Safety
/// `pucHash` is null or valid for writing 32 bytes; `puiHashLength` null or valid for a `c_uint`.
#[no_mangle]
pub unsafe extern "C" fn SDF_HashFinal(
    hSessionHandle: *mut c_void,
    pucHash: *mut u8,
    puiHashLength: *mut c_uint,
) -> c_int {
    on_session(hSessionHandle, |s| {
        if pucHash.is_null() || puiHashLength.is_null() {
            return Err(SDR_OUTARGERR);
        }
        let digest = s.hash_final()?;
        // SAFETY: not null; 32 writable bytes and a c_uint by the contract above.
        unsafe {
            write_out(pucHash.cast::<[u8; 32]>(), digest)?;
            write_out(puiHashLength, 32)
        }
    })
}

/// Not SDF: set the open device's fault rates (hw-sim's spec, e.g. `drop=0.1,hang=0.05`, or
/// `none`). `SDR_OPENDEVICE` when no device is open, `SDR_INARGERR` for a spec that does not parse.
///
/// # Safety
/// `spec` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn XINLIAN_SDF_SIM_SetFaults(spec: *const c_char) -> c_int {
    guard(|| {
        if spec.is_null() {
            return Err(SDR_INARGERR);
        }
        // SAFETY: not null, NUL-terminated by the contract above.
        let text = unsafe { CStr::from_ptr(spec) }.to_str().map_err(|_| SDR_INARGERR)?;
        let faults: FaultConfig = text.parse().map_err(|_| SDR_INARGERR)?;
        device::open_device_state().ok_or(SDR_OPENDEVICE)?.set_faults(faults);
        Ok(())
    })
}

/// Not SDF: the open device's counters: work calls (verify, sign, hash final) and faults fired.
///
/// # Safety
/// Each pointer is null or valid for writing a `u64`.
#[no_mangle]
pub unsafe extern "C" fn XINLIAN_SDF_SIM_GetCounters(calls: *mut u64, faults: *mut u64) -> c_int {
    guard(|| {
        let (c, f) = device::open_device_state().ok_or(SDR_OPENDEVICE)?.counters();
        // SAFETY: null or valid for a u64 each, by the contract above.
        unsafe {
            write_out(calls, c)?;
            write_out(faults, f)
        }
    })
}
