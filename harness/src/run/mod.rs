//! `streambench run`: a suite's scenarios run one by one and measured.

pub mod latency;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod summary;

pub use runner::{RunConfig, RunProgress, run_suite};
