//! Card profiles: what a card is (engines, clock, cycles per operation, DMA, latency, ring
//! sizes), read from TOML. Two are built in (`hw-sim/profiles/*.toml`, compiled into the crate):
//! `pcie-2019` and `fpga-1m`.
//!
//! Owns: parsing and checking a profile. Never: timing arithmetic (that is `timing`).

use std::path::Path;

use serde::Deserialize;

use crate::abi::Layout;
use crate::Error;

/// The built-in profiles, by name, as TOML text.
pub const BUILT_IN: &[(&str, &str)] =
    &[("pcie-2019", include_str!("../profiles/pcie-2019.toml")), ("fpga-1m", include_str!("../profiles/fpga-1m.toml"))];

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "pcie-2019";

/// One card model.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name (shown in `REG_PROFILE_NAME`, at most 32 bytes).
    pub name: String,
    /// One line for people.
    #[serde(default)]
    pub description: String,
    /// Engine clock, Hz.
    pub clock_hz: u64,
    /// Ring depth (power of two).
    pub queue_depth: u32,
    /// DMA area size, bytes (multiple of 4096).
    pub dma_bytes: usize,
    /// Most items per descriptor.
    pub max_items: u32,
    /// Fixed latency added to every descriptor (doorbell, fetch, interrupt), ns.
    pub fixed_latency_ns: u64,
    /// DMA bandwidth each way, bytes per second.
    pub dma_bytes_per_s: u64,
    /// SM2 verify engines.
    pub sm2: Sm2Engines,
    /// SM3 engines (also Merkle).
    pub sm3: Sm3Engines,
    /// The vendor's figures the timing model must reproduce (tests check within 5%).
    pub nominal: Nominal,
}

/// The SM2 engine pool.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sm2Engines {
    /// Engines working in parallel.
    pub engines: u32,
    /// Cycles one engine spends on one verification.
    pub cycles_per_verify: u64,
}

/// The SM3 engine pool.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sm3Engines {
    /// Engines working in parallel (one message at a time each).
    pub engines: u32,
    /// Cycles per 64-byte compression.
    pub cycles_per_block: u64,
}

/// Published throughput figures.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nominal {
    /// SM2 verifications per second.
    pub sm2_verify_per_s: u64,
    /// SM3 throughput, megabits (10^6 bits) per second.
    pub sm3_mbps: u64,
}

impl Profile {
    /// A built-in profile by name.
    pub fn built_in(name: &str) -> Result<Profile, Error> {
        let (_, text) = BUILT_IN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            Error::Profile(format!("no built-in profile {name:?} (built in: {})", names.join(", ")))
        })?;
        Profile::from_toml(text)
    }

    /// A profile from TOML text.
    pub fn from_toml(text: &str) -> Result<Profile, Error> {
        let p: Profile = toml::from_str(text).map_err(|e| Error::Profile(e.to_string()))?;
        p.check()?;
        Ok(p)
    }

    /// A built-in name, or else a TOML file path.
    pub fn by_name_or_file(spec: &str) -> Result<Profile, Error> {
        if BUILT_IN.iter().any(|(n, _)| *n == spec) {
            return Profile::built_in(spec);
        }
        let path = Path::new(spec);
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Profile(format!("{spec:?} is neither a built-in profile nor a readable file: {e}")))?;
        Profile::from_toml(&text).map_err(|e| Error::Profile(format!("{}: {e}", path.display())))
    }

    /// The BAR layout this profile gives.
    pub fn layout(&self) -> Result<Layout, Error> {
        Layout::new(self.queue_depth, self.dma_bytes)
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::Profile(format!("profile {}: {what}", self.name)));
        if self.name.is_empty() || self.name.len() > crate::abi::PROFILE_NAME_LEN || !self.name.is_ascii() {
            return bad("name must be 1 to 32 ASCII bytes");
        }
        if self.clock_hz == 0 || self.dma_bytes_per_s == 0 {
            return bad("clock_hz and dma_bytes_per_s must be non-zero");
        }
        if self.sm2.engines == 0 || self.sm3.engines == 0 || self.sm2.engines > 1024 || self.sm3.engines > 1024 {
            return bad("engine counts must be in 1..=1024");
        }
        if self.sm2.cycles_per_verify == 0 || self.sm3.cycles_per_block == 0 {
            return bad("cycles per operation must be non-zero");
        }
        if self.max_items == 0 {
            return bad("max_items must be non-zero");
        }
        if self.dma_bytes / self.queue_depth as usize <= 1 << 16 {
            return bad("dma_bytes / queue_depth (one descriptor's DMA window) must exceed 64 KiB");
        }
        self.layout().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_parse_and_bad_profiles_are_refused_naming_the_field() {
        for (name, _) in BUILT_IN {
            assert_eq!(Profile::built_in(name).unwrap().name, *name);
        }
        let good = BUILT_IN[0].1;
        let err = Profile::from_toml(&good.replace("queue_depth = 64", "queue_depth = 60")).unwrap_err();
        assert!(err.to_string().contains("queue_depth"), "{err}");
        let err = Profile::from_toml(&format!("{good}\nturbo = true\n")).unwrap_err();
        assert!(err.to_string().contains("turbo"), "{err}");
        let err = Profile::by_name_or_file("no-such-card").unwrap_err();
        assert!(err.to_string().contains("neither a built-in profile"), "{err}");
    }
}
