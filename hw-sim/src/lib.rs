//! A simulated crypto card behind a memory-mapped ABI.
//!
//! Not built yet: the card ABI (register map, descriptor and completion rings in a
//! memory-mapped BAR), its engines, timing model and fault injection arrive with the
//! hw-sim issue. Until then this crate only holds its place in the workspace so that the
//! dependency order `kernels <- hw-sim <- accel <- node` is fixed from the start.

/// The card ABI version this crate will speak (none yet: 0 means "no card ABI").
pub const ABI_VERSION: u32 = 0;
