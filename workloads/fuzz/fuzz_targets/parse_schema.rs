//! Any text as an event schema: parsed, validated, and when valid made to
//! write events, which must be JSON objects. An error is fine, a panic is not.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| streambench_workloads::untrusted::parse_as_schema(bytes));
