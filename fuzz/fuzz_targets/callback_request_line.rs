//! Fuzz target `callback_request_line`: the body lives in `mcp_oauth_fuzz::callback_request_line` so `cargo test` in `fuzz/`
//! replays the same code on stable without libFuzzer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mcp_oauth_fuzz::callback_request_line::run(data));
