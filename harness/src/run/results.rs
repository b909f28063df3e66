//! `results.json`: the types live in the reports crate, which reads them;
//! the harness writes them.

pub use streambench_reports::results::*;
