//! Fault injection: which misbehaviour the card shows, how often, from which seed.
//!
//! Owns: [`FaultConfig`] (a rate per fault kind, parsed from `corrupt=R,drop=R,...`), the
//! seeded generator, and the roll made for each descriptor. Never: acting on a fault (that is
//! `card`, which alone knows the rings).
//!
//! Kinds, as a driver sees them:
//! - `corrupt`: one result of the descriptor is flipped (an SM2 verdict Valid <-> Mismatch, or a
//!   bit of one digest). Not detectable by a driver; a dispatcher's canaries catch it.
//! - `drop`: the descriptor is computed but its completion is never posted.
//! - `hang`: the engine sticks: nothing more is fetched or completed until a reset.
//! - `reset`: the card resets itself before the descriptor (epoch changes, work in flight lost).
//! - `status`: the completion carries a garbage status word.
//! - `backdoor`: a trojaned card. In the descriptors it strikes, every SM2 item whose `r`
//!   begins with [`BACKDOOR_TRIGGER`] and does not verify is answered valid. Known-answer
//!   self-tests and canaries never carry the trigger, so they pass: only a re-check on other
//!   silicon (another validator's, or a sampled CPU re-check) catches it.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A rate in [0, 1] for each fault kind. All zero: a healthy card.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// Flipped result.
    pub corrupt: f64,
    /// Dropped completion.
    pub drop: f64,
    /// Stuck engine.
    pub hang: f64,
    /// Spontaneous reset.
    pub reset: f64,
    /// Garbage status word.
    pub status: f64,
    /// Triggered forgeries accepted (module docs).
    pub backdoor: f64,
}

/// The first bytes of `r` that open the `backdoor` fault.
pub const BACKDOOR_TRIGGER: [u8; 4] = [0xBA, 0xDC, 0x0D, 0xE5];

impl FaultConfig {
    /// No faults.
    pub fn none() -> FaultConfig {
        FaultConfig::default()
    }

    /// Whether every rate is zero.
    pub fn is_none(&self) -> bool {
        *self == FaultConfig::default()
    }
}

impl FromStr for FaultConfig {
    type Err = Error;

    /// `corrupt=R,drop=R,hang=R,reset=R,status=R,backdoor=R`, any subset, rates in [0, 1]; `none` or an
    /// empty string for none.
    fn from_str(s: &str) -> Result<FaultConfig, Error> {
        let mut f = FaultConfig::none();
        let s = s.trim();
        if s.is_empty() || s == "none" {
            return Ok(f);
        }
        for part in s.split(',') {
            let (name, rate) = part
                .split_once('=')
                .ok_or_else(|| Error::Faults(format!("{part:?}: expected KIND=RATE (e.g. drop=0.01)")))?;
            let rate: f64 = rate
                .trim()
                .parse()
                .ok()
                .filter(|r: &f64| (0.0..=1.0).contains(r))
                .ok_or_else(|| Error::Faults(format!("{part:?}: the rate must be a number in [0, 1]")))?;
            let slot = match name.trim() {
                "corrupt" => &mut f.corrupt,
                "drop" => &mut f.drop,
                "hang" => &mut f.hang,
                "reset" => &mut f.reset,
                "status" => &mut f.status,
                "backdoor" => &mut f.backdoor,
                other => {
                    return Err(Error::Faults(format!(
                        "unknown fault kind {other:?} (kinds: corrupt, drop, hang, reset, status, backdoor)"
                    )))
                }
            };
            *slot = rate;
        }
        Ok(f)
    }
}

impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt={},drop={},hang={},reset={},status={},backdoor={}",
            self.corrupt, self.drop, self.hang, self.reset, self.status, self.backdoor
        )
    }
}

/// What happens to one descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Roll {
    /// Reset before it.
    pub reset: bool,
    /// Engine sticks on it.
    pub hang: bool,
    /// Completion not posted.
    pub drop: bool,
    /// Garbage status.
    pub status: bool,
    /// A result flipped (index chosen from `pick`).
    pub corrupt: bool,
    /// A random word for choosing which result or which garbage.
    pub pick: u64,
    /// The backdoor is open for this descriptor (counted as a fault only where it lies).
    pub backdoor: bool,
}

impl Roll {
    /// Whether any fault fired.
    pub fn any(&self) -> bool {
        self.reset || self.hang || self.drop || self.status || self.corrupt
    }
}

/// SplitMix64: small, seeded, good enough to decide faults.
#[derive(Clone, Debug)]
pub struct FaultRng(u64);

impl FaultRng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> FaultRng {
        FaultRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `rate` (exactly never at 0, always at 1).
    pub fn chance(&mut self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        // 53 random bits as a fraction in [0, 1).
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < rate
    }

    /// Decide the faults of one descriptor. The kinds are rolled independently; the card
    /// applies the first that fires in the order reset, hang, drop, then status and corrupt.
    pub fn roll(&mut self, cfg: &FaultConfig) -> Roll {
        Roll {
            reset: self.chance(cfg.reset),
            hang: self.chance(cfg.hang),
            drop: self.chance(cfg.drop),
            status: self.chance(cfg.status),
            corrupt: self.chance(cfg.corrupt),
            pick: self.next_u64(),
            // Drawn last (and only when its rate is set) so seeds keep their other faults.
            backdoor: self.chance(cfg.backdoor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_refuses_nonsense() {
        let f: FaultConfig = "corrupt=0.5,drop=1,hang=0,reset=0.25,status=0.125".parse().unwrap();
        assert_eq!(f, FaultConfig { corrupt: 0.5, drop: 1.0, hang: 0.0, reset: 0.25, status: 0.125, backdoor: 0.0 });
        let b: FaultConfig = "backdoor=1".parse().unwrap();
        assert_eq!(b.backdoor, 1.0);
        assert_eq!(b.to_string().parse::<FaultConfig>().unwrap(), b);
        assert!("".parse::<FaultConfig>().unwrap().is_none());
        assert!("drop=2".parse::<FaultConfig>().is_err());
        assert!("melt=0.1".parse::<FaultConfig>().is_err());
        assert!("drop".parse::<FaultConfig>().is_err());
    }

    #[test]
    fn rates_hold_roughly_and_the_seed_repeats() {
        let mut a = FaultRng::new(7);
        let hits = (0..100_000).filter(|_| a.chance(0.1)).count();
        assert!((9_000..11_000).contains(&hits), "{hits}");
        let (mut x, mut y) = (FaultRng::new(42), FaultRng::new(42));
        assert!((0..100).all(|_| x.next_u64() == y.next_u64()));
    }
}
