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
        let positions = positions(items.len(), count, rng);
        let (made, verdicts): (Vec<PreparedVerify>, Vec<Verdict>) =
            (0..count).map(|k| if k % 2 == 0 { (self.valid(rng), Verdict::Valid) } else { self.invalid(rng) }).unzip();
        let batch = interleave(items.iter().cloned(), made, &positions);
        Seeded { batch, canaries: positions.into_iter().zip(verdicts).collect() }
    }
}

impl Seeded {
    /// The real items' verdicts if every canary came back as expected; `Err` names the first
    /// canary that did not.
    pub(crate) fn check(&self, verdicts: Vec<Verdict>) -> Result<Vec<Verdict>, String> {
        if verdicts.len() != self.batch.len() {
            return Err(format!("{} verdicts for a batch of {}", verdicts.len(), self.batch.len()));
        }
        let positions: Vec<usize> = self.canaries.iter().map(|(p, _)| *p).collect();
        let (real, came_back) = separate(verdicts, &positions);
        for ((pos, want), got) in self.canaries.iter().zip(&came_back) {
            if got != want {
                return Err(format!("canary at {pos} came back {got} (expected {want})"));
            }
        }
        Ok(real)
    }
}

/// Where `count` canaries go among `real` real items: `count` distinct positions below
/// `real + count`, drawn at random, in increasing order.
pub(crate) fn positions(real: usize, count: usize, rng: &mut StdRng) -> Vec<usize> {
    let mut positions = rand::seq::index::sample(rng, real + count, count).into_vec();
    positions.sort_unstable();
    positions
}

/// Real items and canaries as one sequence, the canaries at `positions` (increasing, as
/// [`positions`] draws them); the only place where the two are merged, for every kind of work.
/// [`separate`] undoes it.
pub(crate) fn interleave<T>(
    real: impl IntoIterator<Item = T>,
    canaries: impl IntoIterator<Item = T>,
    positions: &[usize],
) -> Vec<T> {
    let (mut real, mut canaries) = (real.into_iter(), canaries.into_iter());
    let mut next = positions.iter().peekable();
    let mut out = Vec::with_capacity(real.size_hint().0 + positions.len());
    loop {
        let item = if next.peek() == Some(&&out.len()) {
            next.next();
            canaries.next()
        } else {
            real.next()
        };
        match item {
            Some(item) => out.push(item),
            None => return out,
        }
    }
}

/// The answers to an [`interleave`]d sequence, split back: (the real items' answers, the
/// canaries' answers), each in order.
pub(crate) fn separate<T>(mixed: Vec<T>, positions: &[usize]) -> (Vec<T>, Vec<T>) {
    let mut real = Vec::with_capacity(mixed.len().saturating_sub(positions.len()));
    let mut canaries = Vec::with_capacity(positions.len());
    let mut next = positions.iter().peekable();
    for (i, answer) in mixed.into_iter().enumerate() {
        if next.peek() == Some(&&i) {
            next.next();
            canaries.push(answer);
        } else {
            real.push(answer);
        }
    }
    (real, canaries)
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

    #[test]
    fn interleave_and_separate_are_inverses() {
        let mut rng = StdRng::seed_from_u64(2);
        for (real, count) in [(0usize, 0usize), (0, 3), (5, 0), (1, 1), (10, 4), (3, 9)] {
            let at = positions(real, count, &mut rng);
            // Real items are 0, 1, ...; canaries 1000, 1001, ...
            let canaries: Vec<usize> = (1000..1000 + count).collect();
            let mixed = interleave(0..real, canaries.clone(), &at);
            assert_eq!(mixed.len(), real + count);
            for (k, &p) in at.iter().enumerate() {
                assert_eq!(mixed[p], canaries[k], "canary {k} at {p}");
            }
            assert_eq!(separate(mixed, &at), ((0..real).collect(), canaries));
        }
    }
}
