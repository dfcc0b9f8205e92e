//! A simulated crypto card behind a memory-mapped ABI.
//!
//! ```text
//!  driver (accel::backends::card, or any program that speaks abi)
//!     │  mmap the BAR file (default /dev/shm/xinlian-card-0)
//!     v
//!  ┌──────────────── BAR ────────────────┐       ┌──── card (this crate) ─────────────────────┐
//!  │ registers  magic/version/caps/status │<─────>│ card:     control loop, resets, pacing     │
//!  │ submission ring  (64 B descriptors)  │──────>│ faults:   corrupt/drop/hang/reset/status   │
//!  │ completion ring  (32 B completions)  │<──────│ engines:  SM2 verify, SM3, Merkle (kernels)│
//!  │ DMA area   inputs and outputs        │<─────>│ timing:   when a completion is due         │
//!  └──────────────────────────────────────┘       │ profiles: pcie-2019, fpga-1m, TOML files   │
//!                                                 └────────────────────────────────────────────┘
//! ```
//!
//! [`abi`] is the card's datasheet in code (`hw-sim/ABI.md` in prose); it knows nothing of
//! accel, and accel's driver speaks it to whatever has this ABI. The simulator runs on a thread
//! ([`Card::spawn`]) in tests, or in its own process (`xinlian card serve`).
//!
//! [`sdf_abi`] is the other datasheet here: GM/T 0018 (SDF), the API every Chinese crypto card's
//! vendor library speaks. The soft card `xinlian-sdf-sim` (`hw-sim/sdf/`) exports it over this
//! crate's profiles, timing model and faults; accel's `sdf` driver loads any library that has it.

pub mod abi;
pub mod card;
pub mod engines;
pub mod faults;
pub mod profiles;
pub mod sdf_abi;
pub mod timing;

pub use abi::{Bar, Counters, ABI_VERSION, DEFAULT_BAR_PATH};
pub use card::{BarLocation, Card, CardConfig, CardHandle, Pacing};
pub use faults::FaultConfig;
pub use profiles::{Profile, DEFAULT_PROFILE};

/// What can go wrong bringing a card up or reading its configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The BAR file could not be created, opened or mapped.
    #[error("BAR {path}: {source}")]
    Bar {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a card's BAR.
    #[error("not a card BAR: {0}")]
    NotACard(String),
    /// A profile is unknown, unreadable or inconsistent.
    #[error("card profile: {0}")]
    Profile(String),
    /// A fault specification does not parse.
    #[error("fault specification: {0}")]
    Faults(String),
    /// Another live card already serves this BAR path.
    #[error("a card is already serving {0}")]
    InUse(String),
    /// The card's thread could not start.
    #[error("cannot start the card thread: {0}")]
    Thread(String),
}
