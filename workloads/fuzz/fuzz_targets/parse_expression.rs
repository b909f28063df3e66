//! Any text as a job expression: parsed, printed and parsed back to the
//! same expression, and type-checked. An error is fine, a panic is not.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| streambench_workloads::untrusted::parse_as_expression(bytes));
