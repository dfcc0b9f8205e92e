//! The node's config file (`node::config::Config::from_toml`), whole.
//!
//! Only with the `node` feature: the node links RocksDB (fuzz/README.md says what that costs
//! an instrumented build). Checked: a refusal names the key; a config that parses writes back
//! as TOML that parses to the same config.

use xinlian_node::config::Config;

/// One input (not UTF-8: nothing to parse, as the node reads the file as text).
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml(text) {
        Ok(config) => {
            let written = toml::to_string(&config).expect("a config writes as TOML");
            let again = Config::from_toml(&written).expect("its own TOML parses");
            assert_eq!(format!("{again:?}"), format!("{config:?}"), "the config changes through its TOML:\n{written}");
        }
        Err(e) => crate::assert_named("node config", &e.to_string()),
    }
}
