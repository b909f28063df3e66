//! Any bytes as a Protobuf record (the Confluent wire format) of a
//! declared schema with a field of every type, run through a declared job's
//! record plan: refused with a reason, or decoded with every value of its
//! field's type. An error is fine, a panic is not.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| streambench_workloads::untrusted::decode_protobuf_as_declared(bytes));
