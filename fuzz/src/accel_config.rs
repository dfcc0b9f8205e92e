//! The `[accel]` section of the node's config file (`AccelConfig::from_toml_str`): an
//! operator's file, and the one place a typo decides which devices carry the load.
//!
//! Checked: a refusal names the section or field; a config that parses is valid, and writing
//! it back as TOML and parsing that gives the same config.

use xinlian_accel::{AccelConfig, AccelError};

/// One input (not UTF-8: nothing to parse, as the node reads the file as text).
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match AccelConfig::from_toml_str(text) {
        Ok(config) => {
            config.validate().expect("a parsed config is valid");
            let written = toml::to_string(&config).expect("a config writes as TOML");
            let again = AccelConfig::from_toml_str(&written).expect("its own TOML parses");
            assert_eq!(again, config, "the config changes through its TOML:\n{written}");
        }
        Err(AccelError::Config(why)) => crate::assert_named("accel config", &why),
        Err(other) => panic!("parsing a config gave {other:?}, not a config error"),
    }
}
