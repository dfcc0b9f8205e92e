//! The soft card against a bare SDF client written from GM/T 0018 alone (no accel driver): the
//! `.so` is loaded with `dlopen`, each test from a copy of its own in a folder of its own with its
//! settings file beside it (a copy is a card of its own). What is checked, each from the standard:
//! one open device; DEVICEINFO; SM3 in pieces and with Z; the SM2 example of GB/T 32918.5 Annex A
//! valid and tampered; argument refusals (null outputs, bad handles, lengths, algorithm IDs);
//! random in pieces of at most 256; keys behind passwords and access rights; the 32-byte layout
//! writes 68 and 64 bytes, not 132 and 128; every fault kind as the crate docs describe it; a
//! stub answers OK and writes nothing; realtime pacing is never early.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use std::ffi::{c_int, c_uint, c_void, CString};
use std::path::PathBuf;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libloading::Library;
use xinlian_hw_sim::sdf_abi::{self as sdf, code_of, DeviceInfo, EccRefPublicKey, EccSignature, FieldLayout};
use xinlian_sdf_sim::{create_keystore, NewKey};

fn h32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

// GB/T 32918.5 Annex A (SM2) and GB/T 32905 Annex A (SM3).
const X: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
const Y: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
const E: &str = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640";
const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";
const SM3_ABC: &str = "66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0";
const SM3_ABCD16: &str = "DEBE9FF92275B8A138604889C18E5A4D6FDB70E5387E5765293DCBA39C0C5732";
const SM3_EMPTY: &str = "1AB21D8355CFA17F8E61194831E81A8F22BEC8C728FEFB747ED035EB5082AA2B";

/// A card's folder, removed when the test ends (the loaded library stays mapped).
struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for Folder {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

/// A card of its own: the built library copied into a fresh folder with `settings` beside it.
fn card_dir(settings: &str) -> (Folder, PathBuf) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let built = xinlian_sdf_sim::built_library().unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!(
        "xinlian-sdf-abi-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(xinlian_sdf_sim::CONFIG_FILE_NAME), settings).unwrap();
    let lib = dir.join(xinlian_sdf_sim::LIBRARY_FILE);
    std::fs::copy(built, &lib).unwrap();
    (Folder(dir), lib)
}

/// The bare client: the functions as the datasheet declares them.
struct Sdf {
    open_device: sdf::OpenDeviceFn,
    close_device: sdf::CloseDeviceFn,
    open_session: sdf::OpenSessionFn,
    close_session: sdf::CloseSessionFn,
    device_info: sdf::GetDeviceInfoFn,
    random: sdf::GenerateRandomFn,
    access: sdf::GetPrivateKeyAccessRightFn,
    release: sdf::ReleasePrivateKeyAccessRightFn,
    export: sdf::ExportSignPublicKeyEccFn,
    sign: sdf::InternalSignEccFn,
    verify: sdf::ExternalVerifyEccFn,
    hash_init: sdf::HashInitFn,
    hash_update: sdf::HashUpdateFn,
    hash_final: sdf::HashFinalFn,
    set_faults: unsafe extern "C" fn(*const std::ffi::c_char) -> c_int,
    counters: unsafe extern "C" fn(*mut u64, *mut u64) -> c_int,
}

fn load(lib: &PathBuf) -> Sdf {
    // SAFETY: the soft card, whose initialisers are Rust's; kept loaded for the process.
    let lib: &'static Library = Box::leak(Box::new(unsafe { Library::new(lib) }.unwrap()));
    macro_rules! get {
        ($name:literal) => {
            // SAFETY: the field's type is the datasheet's declaration of the symbol.
            *unsafe { lib.get($name) }.unwrap()
        };
    }
    Sdf {
        open_device: get!(b"SDF_OpenDevice"),
        close_device: get!(b"SDF_CloseDevice"),
        open_session: get!(b"SDF_OpenSession"),
        close_session: get!(b"SDF_CloseSession"),
        device_info: get!(b"SDF_GetDeviceInfo"),
        random: get!(b"SDF_GenerateRandom"),
        access: get!(b"SDF_GetPrivateKeyAccessRight"),
        release: get!(b"SDF_ReleasePrivateKeyAccessRight"),
        export: get!(b"SDF_ExportSignPublicKey_ECC"),
        sign: get!(b"SDF_InternalSign_ECC"),
        verify: get!(b"SDF_ExternalVerify_ECC"),
        hash_init: get!(b"SDF_HashInit"),
        hash_update: get!(b"SDF_HashUpdate"),
        hash_final: get!(b"SDF_HashFinal"),
        set_faults: get!(b"XINLIAN_SDF_SIM_SetFaults"),
        counters: get!(b"XINLIAN_SDF_SIM_GetCounters"),
    }
}

/// A card opened with `settings`: the client, the device and one session.
fn open(settings: &str) -> (Sdf, *mut c_void, *mut c_void, Folder) {
    let (dir, lib) = card_dir(settings);
    let sdf = load(&lib);
    let (mut dev, mut sess) = (null_mut(), null_mut());
    // SAFETY: valid out-pointers for a handle each.
    unsafe {
        assert_eq!(code_of((sdf.open_device)(&raw mut dev)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.open_session)(dev, &raw mut sess)), sdf::SDR_OK);
    }
    (sdf, dev, sess, dir)
}

impl Sdf {
    fn verify(&self, s: *mut c_void, layout: FieldLayout, e: &[u8; 32], r: &[u8; 32], sig_s: &[u8; 32]) -> u32 {
        let mut key = layout.public_key(&h32(X), &h32(Y));
        let mut sig = layout.signature(r, sig_s);
        let mut e = *e;
        // SAFETY: full-size structs and 32 bytes of e, alive for the call.
        code_of(unsafe { (self.verify)(s, sdf::SGD_SM2_1, &raw mut key, e.as_mut_ptr(), 32, &raw mut sig) })
    }

    /// SM3 of `parts`, each through one HashUpdate; (code, digest).
    fn sm3(&self, s: *mut c_void, parts: &[&[u8]]) -> (u32, [u8; 32]) {
        let mut out = [0u8; 32];
        let mut len: c_uint = 0;
        // SAFETY: plain SM3 (no key, no ID); each part readable; 32 bytes and a c_uint to write.
        unsafe {
            let rc = code_of((self.hash_init)(s, sdf::SGD_SM3, null_mut(), null_mut(), 0));
            if rc != sdf::SDR_OK {
                return (rc, out);
            }
            for part in parts {
                let len = c_uint::try_from(part.len()).unwrap();
                let rc = code_of((self.hash_update)(s, part.as_ptr().cast_mut(), len));
                if rc != sdf::SDR_OK {
                    return (rc, out);
                }
            }
            let rc = code_of((self.hash_final)(s, out.as_mut_ptr(), &raw mut len));
            assert!(rc != sdf::SDR_OK || len == 32, "length {len}");
            (rc, out)
        }
    }

    fn set_faults(&self, spec: &str) {
        let spec = CString::new(spec).unwrap();
        // SAFETY: a NUL-terminated string.
        assert_eq!(code_of(unsafe { (self.set_faults)(spec.as_ptr()) }), sdf::SDR_OK);
    }
}

#[test]
fn one_device_its_info_and_bad_handles_refused() {
    let (sdf, dev, s, _dir) = open("profile = \"fpga-1m\"\nserial = \"T-0001\"\n");
    let mut again = null_mut();
    let mut info = DeviceInfo::default();
    // SAFETY: valid out-pointers; a made-up handle is only looked up by the card.
    unsafe {
        assert_eq!(code_of((sdf.open_device)(&raw mut again)), sdf::SDR_OPENDEVICE, "one device per process");
        assert_eq!(code_of((sdf.device_info)(s, &raw mut info)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.device_info)(s, null_mut())), sdf::SDR_OUTARGERR);
        assert_eq!(
            code_of((sdf.device_info)(std::ptr::without_provenance_mut(999_999), &raw mut info)),
            sdf::SDR_INARGERR
        );
        assert_eq!(code_of((sdf.open_device)(null_mut())), sdf::SDR_OUTARGERR);
    }
    assert!(sdf::field_text(&info.issuer_name).contains("xinlian"), "{info:?}");
    assert_eq!(sdf::field_text(&info.device_name), "fpga-1m x16");
    assert_eq!(sdf::field_text(&info.device_serial), "T-0001");
    assert_eq!(info.hash_alg_ability & sdf::SGD_SM3, sdf::SGD_SM3);
    assert_eq!(info.asym_alg_ability[1], 256);
    // SAFETY: handles from the card.
    unsafe {
        assert_eq!(code_of((sdf.close_session)(s)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.close_session)(s)), sdf::SDR_INARGERR, "closed once");
        assert_eq!(code_of((sdf.close_device)(dev)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.open_device)(&raw mut again)), sdf::SDR_OK, "open again after close");
    }
}

#[test]
fn sm3_in_pieces_and_with_z_gives_the_standard_digests() {
    let (sdf, _dev, s, _dir) = open("");
    assert_eq!(sdf.sm3(s, &[b"abc"]), (sdf::SDR_OK, h32(SM3_ABC)));
    let abcd = "abcd".repeat(16);
    let b = abcd.as_bytes();
    assert_eq!(sdf.sm3(s, &[&b[..1], &b[1..4], &b[4..]]), (sdf::SDR_OK, h32(SM3_ABCD16)));
    assert_eq!(sdf.sm3(s, &[]), (sdf::SDR_OK, h32(SM3_EMPTY)));
    assert_eq!(sdf.sm3(s, &[b"abc", b""]).0, sdf::SDR_INARGERR, "HashUpdate of length 0 is refused");
    let mut out = [0u8; 32];
    let mut len: c_uint = 0;
    let mut key = FieldLayout::Bytes64.public_key(&h32(X), &h32(Y));
    let mut id = *b"1234567812345678";
    // SAFETY: valid buffers for every call.
    unsafe {
        // The refused update left "abc" in progress: it finishes once, then nothing is.
        assert_eq!(code_of((sdf.hash_final)(s, out.as_mut_ptr(), &raw mut len)), sdf::SDR_OK);
        assert_eq!(out, h32(SM3_ABC));
        assert_eq!(code_of((sdf.hash_final)(s, out.as_mut_ptr(), &raw mut len)), sdf::SDR_STEPERR);
        assert_eq!(code_of((sdf.hash_update)(s, id.as_mut_ptr(), 1)), sdf::SDR_STEPERR);
        assert_eq!(code_of((sdf.hash_init)(s, 2, null_mut(), null_mut(), 0)), sdf::SDR_ALGNOTSUPPORT);
        // With the key and the ID: Z first, so SM3(Z ‖ "message digest") is Annex A's e.
        assert_eq!(code_of((sdf.hash_init)(s, sdf::SGD_SM3, &raw mut key, id.as_mut_ptr(), 16)), sdf::SDR_OK);
        let mut msg = *b"message digest";
        assert_eq!(code_of((sdf.hash_update)(s, msg.as_mut_ptr(), 14)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.hash_final)(s, out.as_mut_ptr(), &raw mut len)), sdf::SDR_OK);
    }
    assert_eq!(out, h32(E));
}

#[test]
fn the_standard_signature_verifies_and_tampered_ones_do_not() {
    let (sdf, _dev, s, _dir) = open("");
    let l = FieldLayout::Bytes64;
    assert_eq!(sdf.verify(s, l, &h32(E), &h32(R), &h32(S)), sdf::SDR_OK);
    let mut e = h32(E);
    e[31] ^= 1;
    assert_eq!(sdf.verify(s, l, &e, &h32(R), &h32(S)), sdf::SDR_VERIFYERR);
    assert_eq!(sdf.verify(s, l, &h32(E), &[0; 32], &h32(S)), sdf::SDR_VERIFYERR, "r = 0 (B1)");
    assert_eq!(sdf.verify(s, l, &h32(E), &h32(R), &[0xFF; 32]), sdf::SDR_VERIFYERR, "s > n (B2)");
    let mut key = EccRefPublicKey { bits: 512, ..l.public_key(&h32(X), &h32(Y)) };
    let mut sig = l.signature(&h32(R), &h32(S));
    let mut e = h32(E);
    // SAFETY: full-size structs and 32 bytes of e (the lengths passed are at most 32).
    unsafe {
        let v = sdf.verify;
        assert_eq!(code_of(v(s, sdf::SGD_SM2_1, &raw mut key, e.as_mut_ptr(), 32, &raw mut sig)), sdf::SDR_INARGERR);
        key = l.public_key(&h32(Y), &h32(X));
        assert_eq!(code_of(v(s, sdf::SGD_SM2_1, &raw mut key, e.as_mut_ptr(), 32, &raw mut sig)), sdf::SDR_INARGERR);
        key = l.public_key(&h32(X), &h32(Y));
        assert_eq!(code_of(v(s, sdf::SGD_SM3, &raw mut key, e.as_mut_ptr(), 32, &raw mut sig)), sdf::SDR_ALGNOTSUPPORT);
        assert_eq!(code_of(v(s, sdf::SGD_SM2_1, &raw mut key, e.as_mut_ptr(), 31, &raw mut sig)), sdf::SDR_INARGERR);
        assert_eq!(code_of(v(s, sdf::SGD_SM2_1, null_mut(), e.as_mut_ptr(), 32, &raw mut sig)), sdf::SDR_INARGERR);
    }
}

#[test]
fn random_comes_in_pieces_of_at_most_256_bytes() {
    let (sdf, _dev, s, _dir) = open("");
    let mut buf = [0u8; 300];
    // SAFETY: 300 writable bytes, more than either length asked.
    unsafe {
        assert_eq!(code_of((sdf.random)(s, 256, buf.as_mut_ptr())), sdf::SDR_OK);
        assert_eq!(code_of((sdf.random)(s, 257, buf.as_mut_ptr())), sdf::SDR_INARGERR);
        assert_eq!(code_of((sdf.random)(s, 16, null_mut())), sdf::SDR_OUTARGERR);
    }
    assert!(buf[..256].iter().any(|&b| b != 0) && buf[256..].iter().all(|&b| b == 0));
}

#[test]
fn keys_need_their_password_and_their_signatures_verify() {
    let (dir, lib) = card_dir("keystore = \"keys.toml\"\n");
    let made =
        create_keystore(&dir.join("keys.toml"), &[NewKey { index: 1, password: b"pw-1", secret: None }]).unwrap();
    let sdf = load(&lib);
    let (mut dev, mut s) = (null_mut(), null_mut());
    let mut key = EccRefPublicKey::default();
    let mut sig = EccSignature::default();
    let mut e = [0x5Au8; 32];
    let (mut good, mut bad) = (*b"pw-1", *b"pw-2");
    // SAFETY: valid out-pointers, full-size structs, the passwords' own lengths.
    unsafe {
        assert_eq!(code_of((sdf.open_device)(&raw mut dev)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.open_session)(dev, &raw mut s)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.export)(s, 1, &raw mut key)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.export)(s, 2, &raw mut key)), sdf::SDR_KEYNOTEXIST);
        assert_eq!(code_of((sdf.sign)(s, 1, e.as_mut_ptr(), 32, &raw mut sig)), sdf::SDR_PARDENY, "no right yet");
        assert_eq!(code_of((sdf.access)(s, 1, bad.as_mut_ptr(), 4)), sdf::SDR_PRKRERR);
        assert_eq!(code_of((sdf.access)(s, 2, good.as_mut_ptr(), 4)), sdf::SDR_KEYNOTEXIST);
        assert_eq!(code_of((sdf.access)(s, 1, good.as_mut_ptr(), 4)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.sign)(s, 1, e.as_mut_ptr(), 31, &raw mut sig)), sdf::SDR_INARGERR);
        assert_eq!(code_of((sdf.sign)(s, 1, e.as_mut_ptr(), 32, &raw mut sig)), sdf::SDR_OK);
    }
    let (x, y) = FieldLayout::Bytes64.key_coordinates(&key).unwrap();
    assert_eq!([&[4u8][..], &x, &y].concat(), made[0].public_key.to_vec());
    let (r, sig_s) = FieldLayout::Bytes64.signature_scalars(&sig).unwrap();
    let mut key2 = key;
    // SAFETY: full-size structs and 32 bytes of e.
    unsafe {
        let mut sig2 = FieldLayout::Bytes64.signature(&r, &sig_s);
        assert_eq!(
            code_of((sdf.verify)(s, sdf::SGD_SM2_1, &raw mut key2, e.as_mut_ptr(), 32, &raw mut sig2)),
            sdf::SDR_OK
        );
        assert_eq!(code_of((sdf.release)(s, 1)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.sign)(s, 1, e.as_mut_ptr(), 32, &raw mut sig)), sdf::SDR_PARDENY, "released");
    }
}

#[test]
fn the_32_byte_layout_reads_68_and_writes_68_and_64_bytes() {
    let (dir, lib) = card_dir("layout = \"32\"\nkeystore = \"keys.toml\"\n");
    create_keystore(&dir.join("keys.toml"), &[NewKey { index: 3, password: b"x", secret: Some([9u8; 32]) }]).unwrap();
    let sdf = load(&lib);
    let (mut dev, mut s) = (null_mut(), null_mut());
    // Buffers of exactly the narrow sizes, followed by a marker that must survive.
    let mut key = [0xEEu8; 132];
    let mut sig = [0xEEu8; 128];
    let mut e = [1u8; 32];
    let mut pw = *b"x";
    // SAFETY: the buffers hold at least 68 and 64 bytes; the card must write no more.
    unsafe {
        assert_eq!(code_of((sdf.open_device)(&raw mut dev)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.open_session)(dev, &raw mut s)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.export)(s, 3, key.as_mut_ptr().cast())), sdf::SDR_OK);
        assert_eq!(code_of((sdf.access)(s, 3, pw.as_mut_ptr(), 1)), sdf::SDR_OK);
        assert_eq!(code_of((sdf.sign)(s, 3, e.as_mut_ptr(), 32, sig.as_mut_ptr().cast())), sdf::SDR_OK);
    }
    assert!(key[68..].iter().all(|&b| b == 0xEE) && sig[64..].iter().all(|&b| b == 0xEE));
    assert_eq!(u32::from_ne_bytes(key[..4].try_into().unwrap()), 256);
    let narrow = FieldLayout::Bytes32;
    let (x, y) = (key[4..36].try_into().unwrap(), key[36..68].try_into().unwrap());
    let (r, sig_s): ([u8; 32], [u8; 32]) = (sig[..32].try_into().unwrap(), sig[32..64].try_into().unwrap());
    let mut k = narrow.public_key(&x, &y);
    let mut g = narrow.signature(&r, &sig_s);
    // SAFETY: full-size structs (the card reads the first 68 and 64 bytes) and 32 bytes of e.
    let rc = unsafe { (sdf.verify)(s, sdf::SGD_SM2_1, &raw mut k, e.as_mut_ptr(), 32, &raw mut g) };
    assert_eq!(code_of(rc), sdf::SDR_OK);
    assert_eq!(
        sdf.verify(s, FieldLayout::Bytes64, &h32(E), &h32(R), &h32(S)),
        sdf::SDR_INARGERR,
        "wide key read narrow"
    );
}

#[test]
fn each_fault_kind_shows_as_the_crate_docs_say() {
    let (sdf, dev, s, _dir) = open("faults = \"reset=1\"\nhang_ms = 300\n");
    let l = FieldLayout::Bytes64;
    let (e, r, sig_s) = (h32(E), h32(R), h32(S));
    assert_eq!(sdf.verify(s, l, &e, &r, &sig_s), sdf::SDR_HARDFAIL);
    sdf.set_faults("none");
    assert_eq!(sdf.verify(s, l, &e, &r, &sig_s), sdf::SDR_OPENSESSION, "a reset ends the sessions open at the time");
    let mut s2 = null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(code_of(unsafe { (sdf.open_session)(dev, &raw mut s2) }), sdf::SDR_OK);
    assert_eq!(sdf.verify(s2, l, &e, &r, &sig_s), sdf::SDR_OK, "a new session works");
    sdf.set_faults("drop=1");
    assert_eq!(sdf.verify(s2, l, &e, &r, &sig_s), sdf::SDR_COMMFAIL);
    sdf.set_faults("status=1");
    let code = sdf.verify(s2, l, &e, &r, &sig_s);
    assert!(code & 0xFFFF_0000 == 0x0BAD_0000 && sdf::code_name(code).is_none(), "{code:#x}");
    sdf.set_faults("corrupt=1");
    assert_eq!(sdf.verify(s2, l, &e, &r, &sig_s), sdf::SDR_VERIFYERR, "a flipped answer");
    assert_ne!(sdf.sm3(s2, &[b"abc"]), (sdf::SDR_OK, h32(SM3_ABC)), "a flipped digest bit");
    sdf.set_faults("hang=1");
    let t = Instant::now();
    assert_eq!(sdf.verify(s2, l, &e, &r, &sig_s), sdf::SDR_OK, "a hung call answers, late");
    assert!(t.elapsed() >= Duration::from_millis(300));
    let (mut calls, mut faults) = (0u64, 0u64);
    // SAFETY: two u64 to write.
    assert_eq!(code_of(unsafe { (sdf.counters)(&raw mut calls, &raw mut faults) }), sdf::SDR_OK);
    assert!(calls >= 7 && faults >= 6, "{calls} calls, {faults} faults");
    let bad = CString::new("melt=1").unwrap();
    // SAFETY: a NUL-terminated string.
    assert_eq!(code_of(unsafe { (sdf.set_faults)(bad.as_ptr()) }), sdf::SDR_INARGERR);
}

#[test]
fn a_stub_answers_ok_and_writes_nothing() {
    let (sdf, _dev, s, _dir) = open("stub = true\n");
    let mut e = h32(E);
    e[0] ^= 0xFF;
    assert_eq!(sdf.verify(s, FieldLayout::Bytes64, &e, &h32(R), &h32(S)), sdf::SDR_OK, "OK to a bad signature");
    let mut out = [0xEEu8; 32];
    let mut len: c_uint = 7;
    // SAFETY: 32 bytes and a c_uint to write.
    assert_eq!(code_of(unsafe { (sdf.hash_final)(s, out.as_mut_ptr(), &raw mut len) }), sdf::SDR_OK);
    assert_eq!((out, len), ([0xEE; 32], 7));
}

#[test]
fn bad_settings_refuse_to_open_and_realtime_pacing_is_never_early() {
    let (_dir, lib) = card_dir("turbo = 1\n");
    let sdf = load(&lib);
    let mut dev = null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(code_of(unsafe { (sdf.open_device)(&raw mut dev) }), sdf::SDR_OPENDEVICE);
    // fpga-1m: one verification is due 80 us + 16 us + DMA after it arrives.
    let (sdf, _dev, s, _dir) = open("profile = \"fpga-1m\"\npacing = \"realtime\"\n");
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(sdf.verify(s, FieldLayout::Bytes64, &h32(E), &h32(R), &h32(S)), sdf::SDR_OK);
        assert!(t.elapsed() >= Duration::from_micros(96), "{:?}", t.elapsed());
    }
}
