//! The code that reads bytes from outside, as the fuzz targets
//! (`workloads/fuzz`) and their regression test drive it: any input may be
//! refused with an error, none may panic.

use crate::event::decode;
use crate::job::{CATALOGUE, CampaignTable, catalogue_job};
use crate::suite::Suite;

/// Decodes `bytes` as each kind of event and runs what decodes through every
/// catalogue job's key extraction.
pub fn decode_as_every_job(bytes: &[u8]) {
    let campaigns = CampaignTable::new(1, 100);
    for name in CATALOGUE {
        let Some(job) = catalogue_job(name) else { continue };
        if let Ok(event) = decode(job.input, bytes) {
            let _ = job.extract(&event, &campaigns);
        }
    }
}

/// Parses `bytes` as a suite file, validates it and expands its jobs.
pub fn parse_as_suite(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(suite) = Suite::parse(text, "fuzz.toml", &crate::engine::examples())
    {
        let _ = suite.job_specs();
    }
}

/// What a fuzz target feeds its bytes to.
pub type Drive = fn(&[u8]);

/// Each fuzz target by name, with the function it drives: what the
/// regression test replays the kept inputs of each target through.
pub const TARGETS: [(&str, Drive); 2] = [
    ("decode_event", decode_as_every_job),
    ("parse_suite", parse_as_suite),
];
