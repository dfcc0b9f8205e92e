//! The bench's inputs, made before anything is timed, and the CPU reference answers for them.
//!
//! Owns: the pool of signed messages (RustCrypto `sm2`, a new random key per signature: cold
//! keys, as `scripts/bench-verify.sh` does), a tampered twin of each (the message changed after
//! signing: well-formed, full cost, and invalid), random messages for SM3 and random leaf
//! hashes for Merkle roots, and which slice of the pool a batch of a given size takes.
//! Never: timing (that is `measure`).

use std::borrow::Borrow;
use std::ops::Range;
use std::thread;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sm2::dsa::signature::Signer;
use xinlian_accel::backends::cpu::verify_one;
use xinlian_accel::{prepare, PreparedVerify, VerifyRequest};
use xinlian_kernels::sm2 as xsm2;
use xinlian_kernels::sm3::{self, Digest};

use super::Op;

/// Seed of every input, so that two runs (two machines) measure the same keys and messages.
pub(super) const SEED: u64 = 0x0058_494E_4C49_414E; // "XINLIAN"

/// The distinguishing ID every signature is made with (GM/T 0009's default), as the
/// RustCrypto and libsm APIs take it.
pub(super) const ID: &str = "1234567812345678";

/// One signed message as it would arrive: SEC1 key, message, raw r ‖ s.
pub(super) struct Signed {
    pub(super) pubkey: [u8; 65],
    pub(super) msg: Vec<u8>,
    pub(super) sig: [u8; 64],
}

impl Signed {
    pub(super) fn request(&self) -> VerifyRequest<'_> {
        VerifyRequest { pubkey: &self.pubkey, id: xsm2::DEFAULT_ID, msg: &self.msg, sig: &self.sig }
    }

    pub(super) fn r(&self) -> &[u8] {
        &self.sig[..32]
    }

    pub(super) fn s(&self) -> &[u8] {
        &self.sig[32..]
    }
}

/// Everything the run measures, for the ops asked for (the others stay empty).
pub(super) struct Inputs {
    /// Items in each pool; every batch size is at most this.
    pub(super) pool: usize,
    /// Bytes per message (signed messages and SM3 messages alike).
    pub(super) msg_bytes: usize,
    /// Valid signatures.
    pub(super) signed: Vec<Signed>,
    /// `signed[i]` with its message changed after signing: invalid.
    pub(super) tampered: Vec<Signed>,
    /// Messages for SM3.
    pub(super) messages: Vec<Vec<u8>>,
    /// SM3 of each message, by the CPU reference (`xinlian_kernels::sm3::digest`).
    pub(super) digests: Vec<Digest>,
    /// Leaf hashes for Merkle roots.
    pub(super) leaves: Vec<Digest>,
}

/// A secret scalar in [1, n-1]: clearing the top bit keeps it below n.
fn secret(rng: &mut StdRng) -> [u8; 32] {
    loop {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        b[0] &= 0x7F;
        if b != [0; 32] {
            return b;
        }
    }
}

fn sign(sk: &[u8; 32], msg: Vec<u8>) -> Result<Signed, String> {
    let key = sm2::dsa::SigningKey::from_slice(ID, sk).map_err(|e| format!("making a signing key: {e}"))?;
    let sig: sm2::dsa::Signature = key.try_sign(&msg).map_err(|e| format!("signing: {e}"))?;
    let pubkey = <[u8; 65]>::try_from(&key.verifying_key().to_sec1_bytes()[..])
        .map_err(|_| "RustCrypto sm2 gave a public key that is not 65 bytes".to_string())?;
    let sig = <[u8; 64]>::try_from(&sig.to_bytes()[..])
        .map_err(|_| "RustCrypto sm2 gave a signature that is not 64 bytes".to_string())?;
    Ok(Signed { pubkey, msg, sig })
}

/// Run `f` over contiguous parts of `items` on up to `threads` scoped threads, in order.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    thread::scope(|s| {
        let parts: Vec<_> =
            items.chunks(per).map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>())).collect();
        // A worker panics only on a bug; re-raise it rather than answer with a partial list.
        parts.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    })
}

impl Inputs {
    /// Make the inputs for `ops`: `pool` items each, messages of `msg_bytes` bytes, signing
    /// on `threads` threads. Checks the CPU reference against how they were made: every
    /// signature verifies and every tampered one does not.
    pub(super) fn make(ops: &[Op], pool: usize, msg_bytes: usize, threads: usize) -> Result<Inputs, String> {
        let mut rng = StdRng::seed_from_u64(SEED);
        let random_msg = |rng: &mut StdRng| {
            let mut m = vec![0u8; msg_bytes];
            rng.fill_bytes(&mut m);
            m
        };
        let mut inputs = Inputs {
            pool,
            msg_bytes,
            signed: Vec::new(),
            tampered: Vec::new(),
            messages: Vec::new(),
            digests: Vec::new(),
            leaves: Vec::new(),
        };
        if ops.contains(&Op::Verify) {
            // Keys and messages drawn in order (the same inputs whatever the thread count),
            // then signed in parallel: RFC 6979 nonces make signing deterministic.
            let todo: Vec<([u8; 32], Vec<u8>)> = (0..pool).map(|_| (secret(&mut rng), random_msg(&mut rng))).collect();
            inputs.signed =
                par_map(&todo, threads, |(sk, msg)| sign(sk, msg.clone())).into_iter().collect::<Result<_, _>>()?;
            inputs.tampered = inputs
                .signed
                .iter()
                .map(|s| {
                    let mut msg = s.msg.clone();
                    msg[0] ^= 1;
                    Signed { pubkey: s.pubkey, msg, sig: s.sig }
                })
                .collect();
            inputs.check_reference(threads)?;
        }
        if ops.contains(&Op::Sm3) {
            inputs.messages = (0..pool).map(|_| random_msg(&mut rng)).collect();
            inputs.digests = par_map(&inputs.messages, threads, |m| sm3::digest(m));
        }
        if ops.contains(&Op::Merkle) {
            inputs.leaves = (0..pool)
                .map(|_| {
                    let mut d = [0u8; 32];
                    rng.fill_bytes(&mut d);
                    d
                })
                .collect();
        }
        Ok(inputs)
    }

    /// The CPU reference (one signature at a time, the scalar path, not the batch path the cpu
    /// backend takes) must agree with how the inputs were made, or every check below would
    /// compare against the wrong answers.
    fn check_reference(&self, threads: usize) -> Result<(), String> {
        for (which, set, want_valid) in
            [("signature", &self.signed, true), ("tampered signature", &self.tampered, false)]
        {
            let verdicts = par_map(set, threads, |s| prepare(&s.request(), None).map(|p| verify_one(&p)));
            for (i, v) in verdicts.into_iter().enumerate() {
                match v {
                    Ok(v) if v.is_valid() == want_valid => {}
                    Ok(v) => {
                        return Err(format!(
                            "bench input {i}: the CPU reference says {v} for a {which} made by RustCrypto sm2"
                        ))
                    }
                    Err(v) => {
                        return Err(format!("bench input {i}: the {which} made by RustCrypto sm2 did not decode: {v}"))
                    }
                }
            }
        }
        Ok(())
    }
}

/// How many distinct batches of `n` items the pool holds (at least one).
pub(super) fn window_count(pool: usize, n: usize) -> usize {
    (pool / n.max(1)).max(1)
}

/// The pool slice batch number `k` of size `n` takes: consecutive batches take consecutive
/// slices, so that a small batch size still cycles through many keys (cold keys).
pub(super) fn window(pool: usize, n: usize, k: usize) -> Range<usize> {
    let j = k % window_count(pool, n);
    j * n..(j + 1) * n
}

/// Decode and hash a batch of signed messages (key, signature, Z, e), on up to `threads`
/// threads when the batch is large enough to pay for them. This is host work every backend
/// needs before its batch, so it is inside the timed region.
pub(super) fn prepare_all<T: Borrow<Signed> + Sync>(
    items: &[T],
    threads: usize,
) -> Result<Vec<PreparedVerify>, String> {
    // Preparing costs a few microseconds a signature; a thread start about twenty.
    let threads = threads.min(items.len() / 128).max(1);
    par_map(items, threads, |s| prepare(&s.borrow().request(), None))
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.map_err(|v| format!("bench input {i} did not decode: {v}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cycle_through_the_pool() {
        assert_eq!(window_count(256, 1), 256);
        assert_eq!(window_count(256, 64), 4);
        assert_eq!(window_count(256, 256), 1);
        assert_eq!(window(256, 64, 0), 0..64);
        assert_eq!(window(256, 64, 5), 64..128);
        assert_eq!(window(1024, 1024, 7), 0..1024);
    }

    #[test]
    fn inputs_verify_and_tampered_ones_do_not() {
        let inputs = Inputs::make(&[Op::Verify, Op::Sm3, Op::Merkle], 8, 16, 2).unwrap();
        assert_eq!(inputs.signed.len(), 8);
        assert_eq!(inputs.tampered.len(), 8);
        assert_eq!(inputs.messages.len(), 8);
        assert_eq!(inputs.leaves.len(), 8);
        assert!(inputs.signed.iter().all(|s| s.msg.len() == 16));
        // Cold keys: every signature by its own key.
        let mut keys: Vec<_> = inputs.signed.iter().map(|s| s.pubkey).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 8);
        assert_eq!(prepare_all(&inputs.signed, 2).unwrap().len(), 8);
    }
}
