#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| xinlian_fuzz::sm2_differential::run(data));
