//! Any bytes a topic can hold, decoded as each kind of event and run through
//! every catalogue job's key extraction: an error is fine, a panic is not.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| streambench_workloads::untrusted::decode_as_every_job(bytes));
