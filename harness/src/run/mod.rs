//! `streambench run`: a suite's scenarios run one by one and measured.

pub mod engine_process;
pub mod faults;
pub mod latency;
pub mod measure;
pub mod pinning;
pub mod plan;
pub mod recovery;
pub mod results;
pub mod runner;
pub mod sampler;
pub mod search;
pub mod spread;

pub use runner::{RunConfig, RunProgress, run_suite};
