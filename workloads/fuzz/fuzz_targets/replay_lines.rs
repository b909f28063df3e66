//! Any bytes as a JSON-lines file of events to replay: refused with a
//! reason naming the line, or read so that every event line, sent with its
//! time moved, decodes to the values the oracle reads. A panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| streambench_workloads::untrusted::replay_as_payments(bytes));
