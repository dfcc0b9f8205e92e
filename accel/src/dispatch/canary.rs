//! Canaries: items whose verdict the dispatcher knows before a device sees them.
//!
//! Owns: the pool of known-valid signatures (signed here, with fresh random keys that are
//! never anyone's secret, by RustCrypto's constant-time SM2 signer), the per-batch draw of
//! valid and tampered copies, their placement at random positions, and the check of what came
//! back.
//! Never: user data or user keys; the fast (variable-time) verification paths for signing.
//!
//! A device cannot tell a canary from real work: a valid canary is an ordinary signature by
//! an ordinary key over a random message, and an invalid one is a copy of a valid one with one
//! random bit of e, r or s flipped. The pool is refreshed one signature per batch, so the same
//! canary does not keep coming back. Canaries catch a device that answers wrongly *often*; a
//! single flipped verdict among thousands is caught only with the probability that it lands on
//! a canary, which is why the dispatcher also re-checks device verdicts on the CPU (see
//! [`super::DispatchConfig`]).

use rand::rngs::StdRng;
use rand::Rng;
use sm2::dsa::signature::Signer as _;
use xinlian_kernels::sm2::{curve::N_BYTES, DEFAULT_ID};

use crate::backends::cpu::verify_one;
use crate::verdict::{prepare, PreparedVerify, Verdict, VerifyRequest};

/// Known-valid signatures, kept fresh.
pub(crate) struct CanaryPool {
    valid: Vec<PreparedVerify>,
}

/// A batch with canaries mixed in, and where they are.
pub(crate) struct Seeded {
    /// Real items and canaries, interleaved.
    pub(crate) batch: Vec<PreparedVerify>,
    /// `(position in batch, expected verdict)` of each canary, in increasing position.
    pub(crate) canaries: Vec<(usize, Verdict)>,
}

/// One freshly signed, prepared, valid item: a random key (never stored beyond this call)
/// signs a random message with the default ID.
fn fresh_valid(rng: &mut StdRng) -> Option<PreparedVerify> {
    let mut secret = [0u8; 32];
    rng.fill(&mut secret[..]);
    if secret >= N_BYTES {
        return None;
    }
    let id = std::str::from_utf8(DEFAULT_ID).ok()?;
    let key = sm2::dsa::SigningKey::from_slice(id, &secret).ok()?;
    let pubkey = key.verifying_key().to_sec1_bytes();
    let mut msg = [0u8; 32];
    rng.fill(&mut msg[..]);
    let sig: sm2::dsa::Signature = key.sign(&msg);
    let mut raw = [0u8; 64];
    raw[..32].copy_from_slice(&sig.r_bytes());
    raw[32..].copy_from_slice(&sig.s_bytes());
    let item = prepare(&VerifyRequest { pubkey: &pubkey, id: DEFAULT_ID, msg: &msg, sig: &raw }, None).ok()?;
    // Never trust the signer blindly: a canary whose expected answer is wrong would
    // quarantine healthy devices.
    (verify_one(&item) == Verdict::Valid).then_some(item)
}

impl CanaryPool {
    /// A pool of `size` valid signatures (at least one).
    pub(crate) fn new(size: usize, rng: &mut StdRng) -> CanaryPool {
        let mut valid = Vec::with_capacity(size.max(1));
        while valid.len() < size.max(1) {
            if let Some(item) = fresh_valid(rng) {
                valid.push(item);
            }
        }
        CanaryPool { valid }
    }

    /// Replace one pool entry with a freshly signed one.
    pub(crate) fn refresh_one(&mut self, rng: &mut StdRng) {
        if let Some(item) = fresh_valid(rng) {
            let i = rng.gen_range(0..self.valid.len());
            self.valid[i] = item;
        }
    }

    /// A valid canary.
    pub(crate) fn valid(&self, rng: &mut StdRng) -> PreparedVerify {
        self.valid[rng.gen_range(0..self.valid.len())].clone()
    }

    /// A tampered copy of a valid canary and its exact verdict (as the CPU reference gives it).
    pub(crate) fn invalid(&self, rng: &mut StdRng) -> (PreparedVerify, Verdict) {
        let mut item = self.valid(rng);
        let bit = rng.gen_range(0..8u8);
        let byte = rng.gen_range(0..32usize);
        match rng.gen_range(0..3u8) {
            0 => item.e[byte] ^= 1 << bit,
            1 => item.r[byte] ^= 1 << bit,
            _ => item.s[byte] ^= 1 << bit,
        }
        let verdict = verify_one(&item);
        (item, verdict)
    }

    /// `items` with `count` canaries (about half valid, at least one of each when `count >= 2`)
    /// at random positions.
    pub(crate) fn seed(&self, items: &[PreparedVerify], count: usize, rng: &mut StdRng) -> Seeded {
        let total = items.len() + count;
        let mut positions: Vec<usize> = rand::seq::index::sample(rng, total, count).into_vec();
        positions.sort_unstable();
        let mut canaries = Vec::with_capacity(count);
        let mut batch = Vec::with_capacity(total);
        let mut real = items.iter();
        let mut next = positions.iter().peekable();
        for pos in 0..total {
            if next.peek() == Some(&&pos) {
                next.next();
                let (item, verdict) =
                    if canaries.len() % 2 == 0 { (self.valid(rng), Verdict::Valid) } else { self.invalid(rng) };
                batch.push(item);
                canaries.push((pos, verdict));
            } else if let Some(item) = real.next() {
                batch.push(item.clone());
            }
        }
        Seeded { batch, canaries }
    }
}

impl Seeded {
    /// The real items' verdicts if every canary came back as expected; `Err` names the first
    /// canary that did not.
    pub(crate) fn check(&self, verdicts: Vec<Verdict>) -> Result<Vec<Verdict>, String> {
        if verdicts.len() != self.batch.len() {
            return Err(format!("{} verdicts for a batch of {}", verdicts.len(), self.batch.len()));
        }
        for (pos, want) in &self.canaries {
            if verdicts[*pos] != *want {
                return Err(format!("canary at {pos} came back {} (expected {want})", verdicts[*pos]));
            }
        }
        let mut out = Vec::with_capacity(verdicts.len() - self.canaries.len());
        let mut next = self.canaries.iter().map(|(p, _)| *p).peekable();
        for (i, v) in verdicts.into_iter().enumerate() {
            if next.peek() == Some(&i) {
                next.next();
            } else {
                out.push(v);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn canaries_are_placed_and_checked() {
        let mut rng = StdRng::seed_from_u64(1);
        let pool = CanaryPool::new(4, &mut rng);
        let real: Vec<PreparedVerify> = (0..10).map(|_| pool.valid(&mut rng)).collect();
        let seeded = pool.seed(&real, 4, &mut rng);
        assert_eq!(seeded.batch.len(), 14);
        let truth: Vec<Verdict> = seeded.batch.iter().map(verify_one).collect();
        assert_eq!(seeded.check(truth.clone()), Ok(vec![Verdict::Valid; 10]));
        assert!(seeded.canaries.iter().any(|(_, v)| !v.is_valid()));
        for (pos, _) in &seeded.canaries {
            let mut wrong = truth.clone();
            wrong[*pos] = if wrong[*pos].is_valid() {
                Verdict::Invalid(xinlian_kernels::sm2::Rejection::Mismatch)
            } else {
                Verdict::Valid
            };
            assert!(seeded.check(wrong).is_err());
        }
    }
}
