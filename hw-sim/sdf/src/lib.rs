//! `xinlian-sdf-sim`: a soft crypto card that speaks GM/T 0018 (SDF), built as
//! `libxinlian_sdf_sim.so`, so that CI drives the very path an operator's vendor library takes.
//!
//! ```text
//!  any SDF client (accel's sdf backend, GmSSL's sdfutil, a C program)
//!     │ dlopen("libxinlian_sdf_sim.so"), SDF_OpenDevice, SDF_OpenSession, ...
//!     v
//!  exports   SDF_* with the C ABI; catch_unwind at every one: a panic is SDR_UNKNOWERR
//!     v
//!  device    handles, sessions (hash state, key access rights), faults, pacing
//!     │           │ hw-sim: Profile (engines, cycles), TimingModel (when an answer is due),
//!     │           │         FaultConfig + FaultRng (which call misbehaves, from a seed)
//!     v           v
//!  crypto    RustCrypto sm2 / sm3: verify, sign (RFC 6979 k), SM3, Z       keystore: keys by index
//! ```
//!
//! # Where its settings come from (read at every `SDF_OpenDevice`)
//!
//! 1. `xinlian-sdf-sim.toml` in the folder that holds the loaded library file itself (so a copy
//!    of the library in a folder of its own is a card of its own: the tests do this);
//! 2. else the file named by the environment variable `XINLIAN_SDF_SIM_CONFIG`;
//! 3. else the defaults below.
//!
//! ```toml
//! profile = "pcie-2019"      # a hw-sim profile (pcie-2019, fpga-1m) or a profile TOML file
//! pacing = "fast"            # "realtime": an answer is not returned before the profile's timing
//!                            # model says it is due (engines shared by every session)
//! faults = "none"            # hw-sim's spec: corrupt=R,drop=R,hang=R,reset=R,status=R,backdoor=R
//! seed = 0                   # of the fault rolls
//! hang_ms = 60000            # how long a hung call blocks (then answers, late)
//! layout = "64"              # "32": the 32-byte-field structs of one vendor's header
//! stub = false               # answer SDR_OK to every call and compute nothing (as stub libraries do)
//! keystore = "keys.toml"     # the key file; relative to this file's folder
//! serial = "XLSDF-00000001"  # DEVICEINFO.DeviceSerial
//! ```
//!
//! The environment variable `XINLIAN_SDF_SIM_KEYSTORE`, when set, names the key file instead
//! of `keystore`. A key file is made by [`keystore::create`] (the CLI's `xinlian card
//! sdf-keys`); without one the card has no keys (`SDF_InternalSign_ECC` answers
//! `SDR_KEYNOTEXIST`).
//!
//! # Faults, as an SDF client sees them
//! Rolled on every `SDF_ExternalVerify_ECC`, `SDF_HashFinal` and `SDF_InternalSign_ECC`:
//! - `drop`: the call fails with `SDR_COMMFAIL` (the request was lost on the way);
//! - `reset`: the card resets: the call fails with `SDR_HARDFAIL` and every session open at the
//!   time answers `SDR_OPENSESSION` from then on (a new session works);
//! - `status`: the call returns a code the standard does not define (`0x0BAD....`);
//! - `hang`: the call blocks for `hang_ms`, then answers (correctly, and late);
//! - `corrupt`: the answer is flipped: a verification's `SDR_OK` <-> `SDR_VERIFYERR`, one bit of
//!   a digest or of a signature's s.
//!
//! [`XINLIAN_SDF_SIM_SetFaults`] (not part of SDF) changes the faults of the open device, as
//! `CardHandle::set_faults` does for the ring card; [`XINLIAN_SDF_SIM_GetCounters`] reads its
//! call and fault counters.
//!
//! # As strict as the strictest library
//! One open device per loaded library; `SDF_HashUpdate` of length 0 and `SDF_GenerateRandom` of
//! more than 256 bytes are refused with `SDR_INARGERR`; `SDF_ExternalVerify_ECC` takes exactly a
//! 32-byte e. DEVICEINFO's `DeviceName` ends in ` xN`, N the profile's SM2 engines (GM/T 0018
//! has no field for it; accel's driver reads this suffix to size its session pool).
//!
//! The key store is a simulation: secrets lie in the file in hex (mode 0600). It is a card for
//! tests and demos, not a place for a production key.

pub mod config;
mod crypto;
mod device;
pub mod exports;
pub mod keystore;
pub mod locate;
mod ops;

pub use config::Settings;
pub use exports::{XINLIAN_SDF_SIM_GetCounters, XINLIAN_SDF_SIM_SetFaults};
pub use keystore::{create as create_keystore, KeyInfo, KeyStore, NewKey};
pub use locate::{built_library, LIBRARY_ENV, LIBRARY_FILE};

/// The file name looked for beside the library.
pub const CONFIG_FILE_NAME: &str = "xinlian-sdf-sim.toml";
/// Environment variable naming the config file when none lies beside the library.
pub const CONFIG_ENV: &str = "XINLIAN_SDF_SIM_CONFIG";
/// Environment variable naming the key file (overrides the config's `keystore`).
pub const KEYSTORE_ENV: &str = "XINLIAN_SDF_SIM_KEYSTORE";

/// What can go wrong reading the soft card's settings or its key file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The settings file is invalid; the message names the field.
    #[error("soft card settings {path}: {reason}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The key file or a key asked for is invalid; the message says which and why.
    #[error("key store: {0}")]
    KeyStore(String),
    /// The built library could not be found or built ([`built_library`]).
    #[error("soft card library: {0}")]
    Library(String),
}
