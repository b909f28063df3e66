//! How results reach PostgreSQL: the sink's promise, which suites choose
//! per scenario and every engine's sink keeps (`engines/src/sink`).

use serde::{Deserialize, Serialize};

/// How results reach PostgreSQL, and so what a restart may leave behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Plain INSERT: at least once; re-emitted rows are visible duplicates.
    Insert,
    /// INSERT ... ON CONFLICT DO UPDATE: idempotent.
    Upsert,
    /// Results and source offsets in one transaction: exactly once.
    Transactional,
}

impl DeliveryMode {
    /// The name as suites and the command line spell it.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryMode::Insert => "insert",
            DeliveryMode::Upsert => "upsert",
            DeliveryMode::Transactional => "transactional",
        }
    }
}
