//! Fuzz target `www_authenticate`: the body lives in `mcp_oauth_fuzz::www_authenticate` so `cargo test` in `fuzz/`
//! replays the same code on stable without libFuzzer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mcp_oauth_fuzz::www_authenticate::run(data));
