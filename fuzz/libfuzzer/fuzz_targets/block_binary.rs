#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| xinlian_fuzz::block_binary::run(data));
