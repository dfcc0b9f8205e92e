//! GM/T 0018 structs as a vendor's SDF library fills them (`hw_sim::sdf_abi`): the
//! `ECCrefPublicKey` of an exported key, the `ECCSignature` of a card's signature, and the
//! text fields of `DEVICEINFO` with the engine count accel reads from the device name.
//!
//! Input: a byte picking the struct and the field layout (64- or 32-byte fields), then the
//! struct's bytes. Checked: a key or signature is taken exactly when the layout allows it
//! (bits = 256, zero padding) and writing it back in the same layout gives the same bytes; the
//! text fields have no NUL or trailing space; an engine count is in range.

use xinlian_accel::backends::sdf::settings::MAX_SESSIONS;
use xinlian_accel::backends::sdf::SdfDeviceInfo;
use xinlian_hw_sim::sdf_abi::{field_text, EccRefPublicKey, EccSignature, FieldLayout, ECCREF_MAX_LEN, SM2_BITS, WORD};

/// One input.
pub fn run(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let layout = if pick & 1 == 0 { FieldLayout::Bytes64 } else { FieldLayout::Bytes32 };
    match (pick >> 1) % 3 {
        0 => public_key(layout, bytes),
        1 => signature(layout, bytes),
        _ => device_texts(bytes),
    }
}

fn field(bytes: &[u8], at: usize) -> [u8; ECCREF_MAX_LEN] {
    let mut f = [0u8; ECCREF_MAX_LEN];
    let rest = bytes.get(at..).unwrap_or_default();
    let n = rest.len().min(ECCREF_MAX_LEN);
    f[..n].copy_from_slice(&rest[..n]);
    f
}

fn public_key(layout: FieldLayout, bytes: &[u8]) {
    let bits = u32::from_le_bytes(field(bytes, 0)[..4].try_into().expect("4 bytes"));
    let key = EccRefPublicKey { bits, x: field(bytes, 4), y: field(bytes, 4 + ECCREF_MAX_LEN) };
    let padded = key.x[..WORD].iter().chain(&key.y[..WORD]).any(|&b| b != 0);
    let allowed = bits == SM2_BITS && (layout == FieldLayout::Bytes32 || !padded);
    match layout.key_coordinates(&key) {
        Some((x, y)) => {
            assert!(allowed, "a key with bits {bits} (padding set: {padded}) was taken in {layout} layout");
            let back = layout.public_key(&x, &y);
            assert_eq!((back.bits, back.x), (key.bits, key.x), "key does not write back");
            if layout == FieldLayout::Bytes64 {
                assert_eq!(back.y, key.y, "key's y does not write back");
            }
        }
        None => assert!(!allowed, "a well-formed key was refused in {layout} layout"),
    }
}

fn signature(layout: FieldLayout, bytes: &[u8]) {
    let sig = EccSignature { r: field(bytes, 0), s: field(bytes, ECCREF_MAX_LEN) };
    let padded = sig.r[..WORD].iter().chain(&sig.s[..WORD]).any(|&b| b != 0);
    match layout.signature_scalars(&sig) {
        Some((r, s)) => {
            assert!(layout == FieldLayout::Bytes32 || !padded, "a signature wider than 256 bits was taken");
            let back = layout.signature(&r, &s);
            assert_eq!(back.r, sig.r, "signature does not write back");
            if layout == FieldLayout::Bytes64 {
                assert_eq!(back.s, sig.s, "signature's s does not write back");
            }
        }
        None => assert!(layout == FieldLayout::Bytes64 && padded, "a 256-bit signature was refused"),
    }
}

fn device_texts(bytes: &[u8]) {
    let issuer = field_text(&field(bytes, 0)[..40]);
    let name = field_text(&field(bytes, 40)[..16]);
    for text in [&issuer, &name] {
        assert!(!text.contains('\0'), "a text field kept a NUL: {text:?}");
        assert_eq!(text.trim_end(), text.as_str(), "a text field kept trailing space: {text:?}");
    }
    let info = SdfDeviceInfo {
        issuer,
        name,
        serial: String::new(),
        device_version: 0,
        standard_version: 0,
        asym_alg_ability: [0; 2],
        sym_alg_ability: 0,
        hash_alg_ability: 0,
        buffer_size: 0,
    };
    if let Some(n) = info.engines() {
        assert!((1..=MAX_SESSIONS).contains(&n), "engine count {n} out of range");
        assert!(info.name.ends_with(&n.to_string()), "engine count {n} not read from the name {:?}", info.name);
    }
}
