//! Turns a run's results into what people read: a verdict per job (and the
//! watermark trade-off when a suite sweeps it, the capacity curve when it
//! searches at several parallelisms, what each kind of fault did when it
//! injects faults), a
//! Markdown report with a decision guide, a self-contained HTML report with charts, and
//! comparisons between two runs. The types of `results.json` live here, so
//! what the harness writes is what reports read.

pub mod compare;
pub mod figures;
pub mod html;
pub mod markdown;
pub mod resilience;
pub mod results;
pub mod scaling;
pub mod svg;
pub mod table;
pub mod verdict;
pub mod watermark;
