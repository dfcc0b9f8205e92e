#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| xinlian_fuzz::key_pem::run(data));
