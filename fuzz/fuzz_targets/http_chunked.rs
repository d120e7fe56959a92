#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| parsers::fuzz_http_chunked(data));
