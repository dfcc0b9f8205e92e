//! Known answers every backend must give: the standard's SM2 example (GB/T 32918.5 / GM/T
//! 0003.5 Annex A, recommended curve, ID 1234567812345678), the same signature tampered, and
//! the SM3 examples of GB/T 32905 Annex A. Used at start-up, by `xinlian devices`, and by the
//! dispatcher to re-admit a backend after a fault.

use xinlian_kernels::sm2::{self, AffinePoint, Rejection};
use xinlian_kernels::{merkle, sm3};

use crate::backend::{AccelError, Backend};
use crate::verdict::{PreparedVerify, Verdict};
use crate::MessageBatch;

/// Public key of the Annex A example, SEC1 uncompressed.
pub const ANNEX_A_PUBKEY: &str = "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020\
CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
/// The signed message.
pub const ANNEX_A_MSG: &[u8] = b"message digest";
/// Z of the example.
pub const ANNEX_A_Z: &str = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3";
/// e of the example.
pub const ANNEX_A_E: &str = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640";
/// r of the example.
pub const ANNEX_A_R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
/// s of the example.
pub const ANNEX_A_S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

/// SM3("abc"), GB/T 32905 Annex A.1.
pub const SM3_ABC: &str = "66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0";
/// SM3("abcd" x 16), GB/T 32905 Annex A.2.
pub const SM3_ABCD16: &str = "DEBE9FF92275B8A138604889C18E5A4D6FDB70E5387E5765293DCBA39C0C5732";

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = s.get(2 * i..2 * i + 2).unwrap_or("00");
        *byte = u8::from_str_radix(pair, 16).unwrap_or(0);
    }
    out
}

/// The Annex A example, prepared: (valid item, the same with e's last bit flipped).
pub fn annex_a_items() -> (PreparedVerify, PreparedVerify) {
    let pk: [u8; 65] = unhex(ANNEX_A_PUBKEY);
    // The constant is a point on the curve; a failure here is a bug in this file, caught by
    // the self-test's own comparison below rather than by a panic.
    let key = AffinePoint::from_sec1(&pk).unwrap_or_else(|_| AffinePoint::generator());
    let item = PreparedVerify { key, table: None, e: unhex(ANNEX_A_E), r: unhex(ANNEX_A_R), s: unhex(ANNEX_A_S) };
    let mut tampered = item.clone();
    tampered.e[31] ^= 1;
    (item, tampered)
}

/// Run the known answers on `backend`.
pub fn run(backend: &dyn Backend) -> Result<(), AccelError> {
    let name = &backend.info().name;
    let (valid, tampered) = annex_a_items();
    // Z and e are host-side work, but check them too: they are what every backend is fed.
    let z = sm2::z_value(sm2::DEFAULT_ID, &valid.key).map_err(|e| AccelError::SelfTest(e.to_string()))?;
    if z != unhex::<32>(ANNEX_A_Z) || sm2::message_digest(&z, ANNEX_A_MSG) != valid.e {
        return Err(AccelError::SelfTest("Z/e of GB/T 32918.5 Annex A differ (host SM3)".to_string()));
    }
    // Eleven items: enough for one full group of eight on wide paths (the IFMA lanes on the
    // CPU, a work-group on a device) plus a ragged remainder.
    let items: Vec<PreparedVerify> =
        (0..11).map(|i| if i % 3 == 1 { tampered.clone() } else { valid.clone() }).collect();
    let verdicts = backend.verify_batch(&items)?;
    let expected: Vec<Verdict> =
        (0..11).map(|i| if i % 3 == 1 { Verdict::Invalid(Rejection::Mismatch) } else { Verdict::Valid }).collect();
    if verdicts != expected {
        return Err(AccelError::SelfTest(format!("{name}: SM2 Annex A verdicts {verdicts:?}, expected {expected:?}")));
    }
    let mut batch = MessageBatch::new();
    batch.push(b"abc");
    batch.push("abcd".repeat(16).as_bytes());
    batch.push(b"");
    let digests = backend.sm3_batch(&batch)?;
    let want = [unhex::<32>(SM3_ABC), unhex::<32>(SM3_ABCD16), sm3::digest(b"")];
    if digests != want {
        return Err(AccelError::SelfTest(format!("{name}: SM3 Annex A digests differ")));
    }
    let leaves: Vec<_> = (0u8..3).map(|i| merkle::leaf_hash(&[i])).collect();
    let level = backend.merkle_level(&leaves)?;
    if level != merkle::parent_level(&leaves) {
        return Err(AccelError::SelfTest(format!("{name}: Merkle level differs")));
    }
    Ok(())
}
