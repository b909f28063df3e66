//! Any text as a suite file: parsed, validated and expanded into its jobs.
//! An error with a message is fine, a panic is not.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| streambench_workloads::untrusted::parse_as_suite(bytes));
