#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| parsers::fuzz_resolv_conf(data));
