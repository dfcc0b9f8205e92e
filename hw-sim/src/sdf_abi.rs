//! GM/T 0018-2012 (SDF), the subset xinlian speaks: the datasheet in code.
//!
//! Owns: the C struct layouts (`ECCrefPublicKey`, `ECCSignature`, `DEVICEINFO`) with their sizes
//! asserted, the return codes (`SDR_*`), the algorithm identifiers (`SGD_*`), the C signatures of
//! the functions (as `extern "C"` pointer types), and [`FieldLayout`], the one place that says
//! where a 256-bit value sits in the 64-byte fields (or in the 32-byte fields of the one vendor
//! header that has them). Both sides use it: `xinlian-sdf-sim` (the soft card, a library) and
//! accel's SDF driver (which loads any vendor's library).
//! Never: behaviour. Nothing here calls a function or decides what a code means to a caller.
//!
//! ```text
//!  ECCrefPublicKey (132 B)        ECCSignature (128 B)       DEVICEINFO (100 B)
//!  0    u32 bits = 256            0    r[64]                  0   IssuerName[40]
//!  4    x[64]  00..00 ‖ x (BE)    64   s[64]                  40  DeviceName[16]
//!  68   y[64]  00..00 ‖ y (BE)         (each 00..00 ‖ v, BE)  56  DeviceSerial[16]
//!                                                             72  DeviceVersion, StandardVersion,
//!  32-byte layout (opt-in): bits, x[32], y[32] = 68 B;           AsymAlgAbility[2], SymAlgAbility,
//!                           r[32], s[32] = 64 B                  HashAlgAbility, BufferSize (u32 each)
//! ```

use std::ffi::{c_int, c_uint, c_void};
use std::mem::size_of;

use serde::{Deserialize, Serialize};

/// Length of a coordinate field in the standard's structs (`ECCref_MAX_LEN`, 512 bits).
pub const ECCREF_MAX_LEN: usize = 64;
/// Bytes of a 256-bit value (an SM2 coordinate, r, s, a digest).
pub const WORD: usize = 32;
/// `bits` of an SM2 public key.
pub const SM2_BITS: u32 = 256;

// --- Algorithm identifiers (GM/T 0006). ---

/// SM3 hash.
pub const SGD_SM3: u32 = 0x0000_0001;
/// SM2 signature (the `uiAlgID` of `SDF_ExternalVerify_ECC`).
pub const SGD_SM2_1: u32 = 0x0002_0200;

// --- Return codes (GM/T 0018-2012 Annex A). ---

/// Success.
pub const SDR_OK: u32 = 0;
/// Base of every error code.
pub const SDR_BASE: u32 = 0x0100_0000;
/// Unknown error.
pub const SDR_UNKNOWERR: u32 = SDR_BASE + 0x01;
/// Not supported.
pub const SDR_NOTSUPPORT: u32 = SDR_BASE + 0x02;
/// Communication with the device failed.
pub const SDR_COMMFAIL: u32 = SDR_BASE + 0x03;
/// Hardware error.
pub const SDR_HARDFAIL: u32 = SDR_BASE + 0x04;
/// The device could not be opened.
pub const SDR_OPENDEVICE: u32 = SDR_BASE + 0x05;
/// The session could not be opened (or is no longer valid).
pub const SDR_OPENSESSION: u32 = SDR_BASE + 0x06;
/// Permission denied.
pub const SDR_PARDENY: u32 = SDR_BASE + 0x07;
/// No key at that index.
pub const SDR_KEYNOTEXIST: u32 = SDR_BASE + 0x08;
/// Algorithm not supported.
pub const SDR_ALGNOTSUPPORT: u32 = SDR_BASE + 0x09;
/// Algorithm mode not supported.
pub const SDR_ALGMODNOTSUPPORT: u32 = SDR_BASE + 0x0A;
/// Public-key operation failed.
pub const SDR_PKOPERR: u32 = SDR_BASE + 0x0B;
/// Private-key operation failed.
pub const SDR_SKOPERR: u32 = SDR_BASE + 0x0C;
/// Signing failed.
pub const SDR_SIGNERR: u32 = SDR_BASE + 0x0D;
/// The signature does not verify: a verdict, not a fault.
pub const SDR_VERIFYERR: u32 = SDR_BASE + 0x0E;
/// Symmetric operation failed.
pub const SDR_SYMOPERR: u32 = SDR_BASE + 0x0F;
/// Calls out of order (e.g. `HashUpdate` before `HashInit`).
pub const SDR_STEPERR: u32 = SDR_BASE + 0x10;
/// Input length not allowed.
pub const SDR_FILESIZEERR: u32 = SDR_BASE + 0x11;
/// Random number generation failed.
pub const SDR_RANDERR: u32 = SDR_BASE + 0x17;
/// The private key's access right was not granted (wrong password).
pub const SDR_PRKRERR: u32 = SDR_BASE + 0x18;
/// Bad input argument.
pub const SDR_INARGERR: u32 = SDR_BASE + 0x1D;
/// Bad output argument.
pub const SDR_OUTARGERR: u32 = SDR_BASE + 0x1E;

/// Most bytes one `SDF_GenerateRandom` call returns in some libraries; callers ask in pieces.
pub const MAX_RANDOM_PER_CALL: usize = 256;

/// The standard's name of a code, `None` for a code it does not define.
pub fn code_name(code: u32) -> Option<&'static str> {
    const NAMES: [&str; 0x1F] = [
        "SDR_OK",
        "SDR_UNKNOWERR",
        "SDR_NOTSUPPORT",
        "SDR_COMMFAIL",
        "SDR_HARDFAIL",
        "SDR_OPENDEVICE",
        "SDR_OPENSESSION",
        "SDR_PARDENY",
        "SDR_KEYNOTEXIST",
        "SDR_ALGNOTSUPPORT",
        "SDR_ALGMODNOTSUPPORT",
        "SDR_PKOPERR",
        "SDR_SKOPERR",
        "SDR_SIGNERR",
        "SDR_VERIFYERR",
        "SDR_SYMOPERR",
        "SDR_STEPERR",
        "SDR_FILESIZEERR",
        "SDR_FILENOEXIST",
        "SDR_FILEOFSERR",
        "SDR_KEYTYPEERR",
        "SDR_KEYERR",
        "SDR_ENCDATAERR",
        "SDR_RANDERR",
        "SDR_PRKRERR",
        "SDR_MACERR",
        "SDR_FILEEXISTS",
        "SDR_FILEWERR",
        "SDR_NOBUFFER",
        "SDR_INARGERR",
        "SDR_OUTARGERR",
    ];
    match code {
        SDR_OK => Some(NAMES[0]),
        c if c > SDR_BASE => NAMES.get(usize::try_from(c - SDR_BASE).ok()?).copied(),
        _ => None,
    }
}

// --- Structs. ---

/// `ECCrefPublicKey`: `bits`, then x and y, each big-endian and right-aligned in 64 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EccRefPublicKey {
    /// Modulus length in bits: 256 for SM2.
    pub bits: c_uint,
    /// x coordinate.
    pub x: [u8; ECCREF_MAX_LEN],
    /// y coordinate.
    pub y: [u8; ECCREF_MAX_LEN],
}

/// `ECCSignature`: r and s, each big-endian and right-aligned in 64 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EccSignature {
    /// r.
    pub r: [u8; ECCREF_MAX_LEN],
    /// s.
    pub s: [u8; ECCREF_MAX_LEN],
}

/// `DEVICEINFO`: what `SDF_GetDeviceInfo` reports. Strings are fixed-width, NUL- or
/// space-padded, and not necessarily NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Manufacturer.
    pub issuer_name: [u8; 40],
    /// Device model.
    pub device_name: [u8; 16],
    /// Serial number.
    pub device_serial: [u8; 16],
    /// Device (firmware) version.
    pub device_version: c_uint,
    /// Version of GM/T 0018 supported.
    pub standard_version: c_uint,
    /// Asymmetric algorithms (bit mask of `SGD_*`) and the largest modulus.
    pub asym_alg_ability: [c_uint; 2],
    /// Symmetric algorithms.
    pub sym_alg_ability: c_uint,
    /// Hash algorithms.
    pub hash_alg_ability: c_uint,
    /// The device's buffer for one call's data, bytes.
    pub buffer_size: c_uint,
}

const _: () = assert!(size_of::<EccRefPublicKey>() == 132);
const _: () = assert!(size_of::<EccSignature>() == 128);
const _: () = assert!(size_of::<DeviceInfo>() == 100);
const _: () = assert!(size_of::<c_uint>() == 4 && size_of::<c_int>() == 4);

impl Default for EccRefPublicKey {
    fn default() -> EccRefPublicKey {
        EccRefPublicKey { bits: 0, x: [0; ECCREF_MAX_LEN], y: [0; ECCREF_MAX_LEN] }
    }
}

impl Default for EccSignature {
    fn default() -> EccSignature {
        EccSignature { r: [0; ECCREF_MAX_LEN], s: [0; ECCREF_MAX_LEN] }
    }
}

impl Default for DeviceInfo {
    fn default() -> DeviceInfo {
        DeviceInfo {
            issuer_name: [0; 40],
            device_name: [0; 16],
            device_serial: [0; 16],
            device_version: 0,
            standard_version: 0,
            asym_alg_ability: [0; 2],
            sym_alg_ability: 0,
            hash_alg_ability: 0,
            buffer_size: 0,
        }
    }
}

/// A fixed-width C string field as text: up to the first NUL, trailing spaces dropped, bytes
/// that are not UTF-8 replaced.
pub fn field_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim_end().to_string()
}

/// `text` into a fixed-width field, NUL-padded, cut at the field's width.
pub fn set_field_text(field: &mut [u8], text: &str) {
    field.fill(0);
    let n = text.len().min(field.len());
    field[..n].copy_from_slice(&text.as_bytes()[..n]);
}

/// Where a 256-bit value sits in the structs' fields.
///
/// The standard's headers (`ECCref_MAX_LEN = 64`) put it right-aligned in 64 bytes; one vendor's
/// header declares 32-byte fields instead. Both layouts are carried here in the standard's
/// 132/128-byte structs: for [`FieldLayout::Bytes32`] the 68-byte key is its first 68 bytes (x in
/// `x[0..32]`, y in `x[32..64]`) and the 64-byte signature its first 64 (r in `r[0..32]`, s in
/// `r[32..64]`). So a caller always hands over the larger struct, and a library that reads the
/// other layout reads wrong values, never past the buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldLayout {
    /// The standard: 64-byte fields, values right-aligned.
    #[default]
    #[serde(rename = "64")]
    Bytes64,
    /// One vendor's: 32-byte fields.
    #[serde(rename = "32")]
    Bytes32,
}

impl std::fmt::Display for FieldLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FieldLayout::Bytes64 => "64",
            FieldLayout::Bytes32 => "32",
        })
    }
}

fn word(bytes: &[u8]) -> [u8; WORD] {
    let mut w = [0u8; WORD];
    w.copy_from_slice(&bytes[..WORD]);
    w
}

impl FieldLayout {
    /// Bytes of `ECCrefPublicKey` in this layout (what a library reads).
    pub const fn public_key_len(self) -> usize {
        match self {
            FieldLayout::Bytes64 => 4 + 2 * ECCREF_MAX_LEN,
            FieldLayout::Bytes32 => 4 + 2 * WORD,
        }
    }

    /// Bytes of `ECCSignature` in this layout.
    pub const fn signature_len(self) -> usize {
        match self {
            FieldLayout::Bytes64 => 2 * ECCREF_MAX_LEN,
            FieldLayout::Bytes32 => 2 * WORD,
        }
    }

    /// An SM2 public key (`bits = 256`).
    pub fn public_key(self, x: &[u8; WORD], y: &[u8; WORD]) -> EccRefPublicKey {
        let mut key = EccRefPublicKey { bits: SM2_BITS, ..EccRefPublicKey::default() };
        match self {
            FieldLayout::Bytes64 => {
                key.x[WORD..].copy_from_slice(x);
                key.y[WORD..].copy_from_slice(y);
            }
            FieldLayout::Bytes32 => {
                key.x[..WORD].copy_from_slice(x);
                key.x[WORD..].copy_from_slice(y);
            }
        }
        key
    }

    /// (x, y) of an SM2 key; `None` unless `bits` is 256 and the padding of the 64-byte
    /// fields is zero.
    pub fn key_coordinates(self, key: &EccRefPublicKey) -> Option<([u8; WORD], [u8; WORD])> {
        if key.bits != SM2_BITS {
            return None;
        }
        match self {
            FieldLayout::Bytes64 => {
                let padded = key.x[..WORD].iter().chain(&key.y[..WORD]).any(|&b| b != 0);
                (!padded).then(|| (word(&key.x[WORD..]), word(&key.y[WORD..])))
            }
            FieldLayout::Bytes32 => Some((word(&key.x[..WORD]), word(&key.x[WORD..]))),
        }
    }

    /// A signature (r, s).
    pub fn signature(self, r: &[u8; WORD], s: &[u8; WORD]) -> EccSignature {
        let mut sig = EccSignature::default();
        match self {
            FieldLayout::Bytes64 => {
                sig.r[WORD..].copy_from_slice(r);
                sig.s[WORD..].copy_from_slice(s);
            }
            FieldLayout::Bytes32 => {
                sig.r[..WORD].copy_from_slice(r);
                sig.r[WORD..].copy_from_slice(s);
            }
        }
        sig
    }

    /// (r, s) of a signature; `None` when the padding of the 64-byte fields is not zero (a
    /// value wider than 256 bits).
    pub fn signature_scalars(self, sig: &EccSignature) -> Option<([u8; WORD], [u8; WORD])> {
        match self {
            FieldLayout::Bytes64 => {
                let padded = sig.r[..WORD].iter().chain(&sig.s[..WORD]).any(|&b| b != 0);
                (!padded).then(|| (word(&sig.r[WORD..]), word(&sig.s[WORD..])))
            }
            FieldLayout::Bytes32 => Some((word(&sig.r[..WORD]), word(&sig.r[WORD..]))),
        }
    }
}

// --- The functions, as C declares them (every one returns an `SDR_*` code as `int`). ---

/// `int SDF_OpenDevice(void **phDeviceHandle)`.
pub type OpenDeviceFn = unsafe extern "C" fn(*mut *mut c_void) -> c_int;
/// `int SDF_CloseDevice(void *hDeviceHandle)`.
pub type CloseDeviceFn = unsafe extern "C" fn(*mut c_void) -> c_int;
/// `int SDF_OpenSession(void *hDeviceHandle, void **phSessionHandle)`.
pub type OpenSessionFn = unsafe extern "C" fn(*mut c_void, *mut *mut c_void) -> c_int;
/// `int SDF_CloseSession(void *hSessionHandle)`.
pub type CloseSessionFn = unsafe extern "C" fn(*mut c_void) -> c_int;
/// `int SDF_GetDeviceInfo(void *hSessionHandle, DEVICEINFO *pstDeviceInfo)`.
pub type GetDeviceInfoFn = unsafe extern "C" fn(*mut c_void, *mut DeviceInfo) -> c_int;
/// `int SDF_GenerateRandom(void *hSessionHandle, unsigned int uiLength, unsigned char *pucRandom)`.
pub type GenerateRandomFn = unsafe extern "C" fn(*mut c_void, c_uint, *mut u8) -> c_int;
/// `int SDF_GetPrivateKeyAccessRight(void *hSessionHandle, unsigned int uiKeyIndex,
/// unsigned char *pucPassword, unsigned int uiPwdLength)`.
pub type GetPrivateKeyAccessRightFn = unsafe extern "C" fn(*mut c_void, c_uint, *mut u8, c_uint) -> c_int;
/// `int SDF_ReleasePrivateKeyAccessRight(void *hSessionHandle, unsigned int uiKeyIndex)`.
pub type ReleasePrivateKeyAccessRightFn = unsafe extern "C" fn(*mut c_void, c_uint) -> c_int;
/// `int SDF_ExportSignPublicKey_ECC(void *hSessionHandle, unsigned int uiKeyIndex,
/// ECCrefPublicKey *pucPublicKey)`.
pub type ExportSignPublicKeyEccFn = unsafe extern "C" fn(*mut c_void, c_uint, *mut EccRefPublicKey) -> c_int;
/// `int SDF_InternalSign_ECC(void *hSessionHandle, unsigned int uiISKIndex, unsigned char *pucData,
/// unsigned int uiDataLength, ECCSignature *pucSignature)`.
pub type InternalSignEccFn = unsafe extern "C" fn(*mut c_void, c_uint, *mut u8, c_uint, *mut EccSignature) -> c_int;
/// `int SDF_ExternalVerify_ECC(void *hSessionHandle, unsigned int uiAlgID, ECCrefPublicKey
/// *pucPublicKey, unsigned char *pucDataInput, unsigned int uiInputLength, ECCSignature
/// *pucSignature)`.
pub type ExternalVerifyEccFn =
    unsafe extern "C" fn(*mut c_void, c_uint, *mut EccRefPublicKey, *mut u8, c_uint, *mut EccSignature) -> c_int;
/// `int SDF_HashInit(void *hSessionHandle, unsigned int uiAlgID, ECCrefPublicKey *pucPublicKey,
/// unsigned char *pucID, unsigned int uiIDLength)`.
pub type HashInitFn = unsafe extern "C" fn(*mut c_void, c_uint, *mut EccRefPublicKey, *mut u8, c_uint) -> c_int;
/// `int SDF_HashUpdate(void *hSessionHandle, unsigned char *pucData, unsigned int uiDataLength)`.
pub type HashUpdateFn = unsafe extern "C" fn(*mut c_void, *mut u8, c_uint) -> c_int;
/// `int SDF_HashFinal(void *hSessionHandle, unsigned char *pucHash, unsigned int *puiHashLength)`.
pub type HashFinalFn = unsafe extern "C" fn(*mut c_void, *mut u8, *mut c_uint) -> c_int;

/// A C `int` return value as the unsigned code the standard writes (`0x0100000E`, not negative).
pub fn code_of(rc: c_int) -> u32 {
    rc.cast_unsigned()
}

/// An unsigned code as the C `int` a function returns.
pub fn rc_of(code: u32) -> c_int {
    code.cast_signed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn field_offsets_are_the_standard_ones() {
        assert_eq!(offset_of!(EccRefPublicKey, x), 4);
        assert_eq!(offset_of!(EccRefPublicKey, y), 68);
        assert_eq!(offset_of!(EccSignature, s), 64);
        assert_eq!(offset_of!(DeviceInfo, device_name), 40);
        assert_eq!(offset_of!(DeviceInfo, device_serial), 56);
        assert_eq!(offset_of!(DeviceInfo, device_version), 72);
        assert_eq!(offset_of!(DeviceInfo, asym_alg_ability), 80);
        assert_eq!(offset_of!(DeviceInfo, buffer_size), 96);
    }

    #[test]
    fn both_layouts_round_trip_and_the_wide_one_is_right_aligned() {
        let (x, y) = ([0x11u8; 32], [0x22u8; 32]);
        for layout in [FieldLayout::Bytes64, FieldLayout::Bytes32] {
            let key = layout.public_key(&x, &y);
            assert_eq!(layout.key_coordinates(&key), Some((x, y)), "{layout}");
            let sig = layout.signature(&y, &x);
            assert_eq!(layout.signature_scalars(&sig), Some((y, x)), "{layout}");
        }
        let key = FieldLayout::Bytes64.public_key(&x, &y);
        assert!(key.x[..32].iter().all(|&b| b == 0) && key.x[32..] == x);
        // A wide key read as narrow (or the reverse) is not the same key.
        assert_ne!(FieldLayout::Bytes32.key_coordinates(&key), Some((x, y)));
        assert_eq!(FieldLayout::Bytes64.key_coordinates(&FieldLayout::Bytes32.public_key(&x, &y)), None);
        assert_eq!(FieldLayout::Bytes64.key_coordinates(&EccRefPublicKey { bits: 512, ..key }), None);
    }

    #[test]
    fn codes_have_their_names_and_unknown_codes_none() {
        assert_eq!(code_name(SDR_OK), Some("SDR_OK"));
        assert_eq!(code_name(SDR_VERIFYERR), Some("SDR_VERIFYERR"));
        assert_eq!(code_name(0x0100_000E), Some("SDR_VERIFYERR"));
        assert_eq!(code_name(SDR_OUTARGERR), Some("SDR_OUTARGERR"));
        assert_eq!(code_name(SDR_BASE), None);
        assert_eq!(code_name(0x0102_0014), None);
        assert_eq!(code_name(7), None);
        assert_eq!(code_of(rc_of(SDR_VERIFYERR)), SDR_VERIFYERR);
        assert_eq!(code_of(-1), 0xFFFF_FFFF);
        let mut f = [0u8; 16];
        set_field_text(&mut f, "xinlian soft card, too long");
        assert_eq!(field_text(&f), "xinlian soft car");
        assert_eq!(field_text(b"abc  \0garbage"), "abc");
    }
}
