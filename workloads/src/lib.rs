//! What streambench runs: the event model (with event schemas, of which the
//! built-in kinds are two), the seeded event generator, the job catalogue and
//! the expressions declared jobs filter with, the oracle that computes every
//! job's exact expected output, and the suite files that combine them.

pub mod avro;
pub mod catalogue_declared;
pub mod compiled_expr;
pub mod compiled_row;
pub mod confluent;
pub mod decimals;
pub mod declared_job;
pub mod declared_oracle;
pub mod declared_run;
pub mod declared_sql;
pub mod delivery;
pub mod distinct;
pub mod engine;
pub mod event;
pub mod event_writer;
pub mod expr;
pub mod format;
pub mod generator;
pub mod invalid;
pub mod job;
pub mod key_names;
pub mod names;
pub mod oracle;
pub mod per_event;
pub mod protobuf;
pub mod rate;
pub mod replay;
pub mod rng;
pub mod scenario;
pub mod schema;
pub mod schema_decoder;
pub mod suite;
pub mod suite_jobs;
pub mod untrusted;
pub mod window;
