//! What can go wrong while an engine runs, with enough context for the user
//! to act on it.

use std::path::PathBuf;

/// An engine runtime failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Kafka refused or failed a request.
    #[error("Kafka: {what}: {error}")]
    Kafka {
        /// What the engine was doing.
        what: String,
        /// The client's error.
        error: rdkafka::error::KafkaError,
    },
    /// The topic to read does not exist.
    #[error(
        "topic {topic:?} does not exist at {brokers}: create it with `streambench generate --topic {topic}` or pass the right --topic"
    )]
    MissingTopic {
        /// The topic.
        topic: String,
        /// Where it was looked for.
        brokers: String,
    },
    /// PostgreSQL refused or failed a request.
    #[error("PostgreSQL: {what}: {}", described(.error))]
    Postgres {
        /// What the engine was doing.
        what: String,
        /// The client's error.
        error: tokio_postgres::Error,
    },
    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong, and what to do.
        reason: String,
    },
    /// A setting that cannot work.
    #[error("{0}")]
    Config(String),
    /// A part of the engine failed to start or ended early (a thread that
    /// could not be spawned, a task that panicked, a computation that failed):
    /// a bug or an exhausted machine, not a setting.
    #[error("internal failure: {0}")]
    Internal(String),
    /// A stage of the pipeline stopped, so the one talking to it cannot go on.
    #[error("{0} stopped")]
    Stopped(&'static str),
    /// Records the engine must read are gone from the topic.
    #[error(
        "{reason}: records of {topic} are gone before the engine read them (deleted by retention?); stopping rather than skipping them"
    )]
    DataLost {
        /// The topic.
        topic: String,
        /// What the broker said.
        reason: String,
    },
    /// An external engine (Spark, Flink) failed or could not start.
    #[error("{engine}: {reason}")]
    External {
        /// The engine.
        engine: &'static str,
        /// What went wrong, with the end of its log.
        reason: String,
    },
}

/// A runtime result.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A Kafka error while doing `what`.
    pub fn kafka(what: impl Into<String>) -> impl FnOnce(rdkafka::error::KafkaError) -> Error {
        let what = what.into();
        move |error| Error::Kafka { what, error }
    }

    /// A PostgreSQL error while doing `what`.
    pub fn postgres(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
        let what = what.into();
        move |error| Error::Postgres { what, error }
    }

    /// A failed durable write of `path`: what was written before is intact,
    /// and the message says what to do.
    pub fn checkpoint_write(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |e| Error::Checkpoint {
            reason: format!(
                "{e}: everything written before is intact; free space or fix permissions on {}, then restart",
                path.parent().unwrap_or(&path).display()
            ),
            path,
        }
    }

    /// A checkpoint I/O error on `path`.
    pub fn checkpoint(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |e| Error::Checkpoint {
            reason: e.to_string(),
            path,
        }
    }
}

/// What PostgreSQL said, where the client's own message is only "db error":
/// the server's severity, SQLSTATE code and message.
fn described(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => error.to_string(),
    }
}
