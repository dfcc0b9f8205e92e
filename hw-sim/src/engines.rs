//! The card's engines: what each opcode computes, over bytes laid out as `ABI.md` says.
//!
//! Owns: decoding a descriptor's input bytes, computing with `xinlian-kernels`
//! (`sm2::verify_batch_vartime`, `sm3::digest_batch`, `merkle::parent_level`), encoding the
//! output bytes, and the [`Work`] the timing model charges. Never: rings, time or faults.
//! Bad input is a completion status (`CS_BAD_*`), never a panic.

use xinlian_kernels::sm2::{self, AffinePoint, KeyRef, Prehashed, Rejection};
use xinlian_kernels::sm3::Digest;
use xinlian_kernels::{merkle, sm3};

use crate::abi::{
    CS_BAD_INPUT, CS_BAD_OPCODE, CS_BAD_RANGE, DIGEST_BYTES, OP_MERKLE_LEVEL, OP_SM2_VERIFY_BATCH, OP_SM3_BATCH,
    SM2_BAD_KEY, SM2_IDENTITY, SM2_ITEM_BYTES, SM2_MISMATCH, SM2_R_OUT_OF_RANGE, SM2_S_OUT_OF_RANGE, SM2_T_IS_ZERO,
    SM2_VALID,
};
use crate::timing::{sm3_blocks, Work};

/// The answer of one descriptor: output bytes and the work to charge, or a refusal status.
pub type EngineResult = Result<(Vec<u8>, Work), u32>;

/// The output length an opcode produces for `items` items (`None`: unknown opcode).
pub fn output_len(opcode: u16, items: usize) -> Option<usize> {
    match opcode {
        OP_SM2_VERIFY_BATCH => Some(items),
        OP_SM3_BATCH => Some(items * DIGEST_BYTES),
        OP_MERKLE_LEVEL => Some(items.div_ceil(2) * DIGEST_BYTES),
        _ => None,
    }
}

/// Run one descriptor's computation on its input bytes.
pub fn execute(opcode: u16, items: usize, input: &[u8]) -> EngineResult {
    match opcode {
        OP_SM2_VERIFY_BATCH => sm2_verify(items, input),
        OP_SM3_BATCH => sm3_batch(items, input),
        OP_MERKLE_LEVEL => merkle_level(items, input),
        _ => Err(CS_BAD_OPCODE),
    }
}

/// The result byte of a rejection.
pub fn rejection_code(r: Rejection) -> u8 {
    match r {
        Rejection::ROutOfRange => SM2_R_OUT_OF_RANGE,
        Rejection::SOutOfRange => SM2_S_OUT_OF_RANGE,
        Rejection::TIsZero => SM2_T_IS_ZERO,
        Rejection::Identity => SM2_IDENTITY,
        Rejection::Mismatch => SM2_MISMATCH,
    }
}

fn word32(b: &[u8]) -> [u8; 32] {
    let mut w = [0u8; 32];
    w.copy_from_slice(&b[..32]);
    w
}

fn sm2_verify(items: usize, input: &[u8]) -> EngineResult {
    if input.len() != items * SM2_ITEM_BYTES {
        return Err(CS_BAD_RANGE);
    }
    let mut out = vec![SM2_BAD_KEY; items];
    let mut keys = Vec::with_capacity(items);
    let mut where_ok = Vec::with_capacity(items);
    let mut scalars = Vec::with_capacity(items);
    for (i, item) in input.chunks_exact(SM2_ITEM_BYTES).enumerate() {
        // A key off the curve gets SM2_BAD_KEY: a card never computes on a non-point.
        if let Ok(key) = AffinePoint::from_coordinates(&word32(&item[0..]), &word32(&item[32..])) {
            keys.push(key);
            where_ok.push(i);
            scalars.push((word32(&item[64..]), word32(&item[96..]), word32(&item[128..])));
        }
    }
    let batch: Vec<Prehashed<'_>> =
        keys.iter().zip(&scalars).map(|(key, (e, r, s))| Prehashed { key: KeyRef::Cold(key), e, r, s }).collect();
    let mut results = vec![Ok(()); batch.len()];
    sm2::verify_batch_vartime(&batch, &mut results);
    for (&i, r) in where_ok.iter().zip(results) {
        out[i] = match r {
            Ok(()) => SM2_VALID,
            Err(rejection) => rejection_code(rejection),
        };
    }
    Ok((out, Work::Sm2 { items: items as u64 }))
}

/// SM3 input: `items` u32 little-endian end offsets (each one past the end of its message,
/// relative to the message bytes), then the packed message bytes starting at the next 8-byte
/// boundary of the input.
pub fn sm3_message_start(items: usize) -> usize {
    (4 * items).next_multiple_of(8)
}

fn sm3_batch(items: usize, input: &[u8]) -> EngineResult {
    let start = sm3_message_start(items);
    if input.len() < start {
        return Err(CS_BAD_RANGE);
    }
    let data = &input[start..];
    let mut msgs: Vec<&[u8]> = Vec::with_capacity(items);
    let mut prev = 0usize;
    for end in input[..4 * items].chunks_exact(4) {
        let end = u32::from_le_bytes([end[0], end[1], end[2], end[3]]) as usize;
        if end < prev || end > data.len() {
            return Err(CS_BAD_INPUT);
        }
        msgs.push(&data[prev..end]);
        prev = end;
    }
    let digests = sm3::digest_batch(&msgs);
    let blocks = msgs.iter().map(|m| sm3_blocks(m.len() as u64)).collect();
    Ok((digests.concat(), Work::Sm3 { blocks }))
}

fn merkle_level(items: usize, input: &[u8]) -> EngineResult {
    if input.len() != items * DIGEST_BYTES {
        return Err(CS_BAD_RANGE);
    }
    let nodes: Vec<Digest> = input.chunks_exact(DIGEST_BYTES).map(word32).collect();
    let parents = merkle::parent_level(&nodes);
    Ok((parents.concat(), Work::Merkle { parents: (items / 2) as u64 }))
}
