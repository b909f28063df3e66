//! Any text as a suite file: parsed, validated and expanded into its jobs.
//! An error with a message is fine, a panic is not.

#![no_main]

use libfuzzer_sys::fuzz_target;
use streambench_workloads::suite::Suite;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(suite) = Suite::parse(text, "fuzz.toml") {
            let _ = suite.job_specs();
        }
    }
});
