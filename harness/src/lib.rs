//! The `streambench` command's library: the local stack (Kafka and
//! PostgreSQL), the broker check, and (with later issues) the suite runner,
//! measurement and results.

pub mod args;
pub mod bench;
pub mod broker_check;
pub mod check;
pub mod clock;
pub mod engine_command;
pub mod home;
pub mod job_file;
pub mod produce;
pub mod run;
pub use streambench_engines::redact;
pub mod stack;
