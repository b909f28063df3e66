//! How streambench runs a job. The runtime both engines share: the Kafka
//! source ([`source`]), what a record is to a job ([`record`]), watermarks
//! ([`watermark`]), the PostgreSQL sink in three delivery modes ([`sink`]),
//! checkpoints ([`checkpoint`], [`batch_log`]) and crash points for the tests
//! that prove the guarantees ([`crash`]). The two engines ([`continuous`],
//! [`microbatch`]) run on it; [`external`] runs real Spark and Flink on the
//! same jobs.

pub mod batch_log;
pub mod checkpoint;
pub mod crash;
pub mod durable;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod options;
pub mod output;
pub mod record;
pub mod redact;
pub mod registry;
pub mod sink;
pub mod source;
pub mod start;
pub mod watermark;

pub use error::{Error, Result};

// The engines, and the registry's table of them (see [`registry`]): a new
// engine is its module, declared here, and its line in `ENGINES`.
pub mod continuous;
pub mod external;
pub mod microbatch;

/// Every engine, in the order `streambench engine --help` lists them.
pub static ENGINES: &[&dyn registry::Engine] = &[
    &continuous::ENTRY,
    &microbatch::ENTRY,
    &external::spark::ENTRY,
    &external::spark_realtime::ENTRY,
    &external::flink::ENTRY,
];
