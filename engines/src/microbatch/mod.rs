//! The micro-batch engine: Spark Structured Streaming's model. A trigger
//! starts a batch; its offset range and watermark go to the offset log
//! before it runs; it is read, decoded into a polars DataFrame and
//! aggregated there ([`frame`]); the result merges into a state store
//! versioned per batch ([`state`]); results are written, then the commit
//! log. A batch planned but not committed is re-run with exactly the same
//! offsets and watermark.

pub mod frame;
mod runtime;
pub mod state;

pub use runtime::{BatchProgress, CommitEntry, ENGINE, MicrobatchSettings, OffsetEntry, OutputMode, run};
