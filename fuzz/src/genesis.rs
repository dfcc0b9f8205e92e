//! The genesis file (`chain::Genesis::from_toml`): every node of a network is handed the same
//! file, and block 0 is a pure function of it.
//!
//! Checked: a refusal says why; a genesis that parses writes back (`to_toml`) to a file that
//! parses to the same genesis and the same block 0.

use xinlian_chain::Genesis;

/// One input (not UTF-8: nothing to parse, as the node reads the file as text).
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Genesis::from_toml(text) {
        Ok(genesis) => {
            let written = genesis.to_toml().expect("a genesis writes as TOML");
            let again = Genesis::from_toml(&written).expect("its own TOML parses");
            assert_eq!(again, genesis, "the genesis changes through its TOML:\n{written}");
        }
        Err(e) => crate::assert_named("genesis", &e.to_string()),
    }
}
