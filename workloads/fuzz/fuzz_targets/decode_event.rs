//! Any bytes a topic can hold, decoded as each kind of event and run through
//! every catalogue job's key extraction: an error is fine, a panic is not.

#![no_main]

use libfuzzer_sys::fuzz_target;
use streambench_workloads::event::decode;
use streambench_workloads::job::{CampaignTable, catalogue_job};

fuzz_target!(|bytes: &[u8]| {
    let campaigns = CampaignTable::new(1, 100);
    for name in ["ysb", "tumbling", "sliding", "session"] {
        let job = catalogue_job(name).expect("a catalogue job");
        if let Ok(event) = decode(job.input, bytes) {
            let _ = job.extract(&event, &campaigns);
        }
    }
});
