//! What an engine hands its sink: window results or per-event rows, late
//! events and dead letters.

use streambench_workloads::per_event::EventRow;
use streambench_workloads::window::{WindowAggregate, WindowKey};

/// One firing of one window: a row of the result table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowResult {
    /// The window and key.
    pub window: WindowKey,
    /// Its aggregates at this firing.
    pub aggregate: WindowAggregate,
    /// 0 for the first firing, +1 for each update (allowed lateness, update mode).
    pub revision: i64,
}

/// An event that arrived after its windows were closed for good, for the
/// late-events side output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LateEvent {
    /// Where it was read.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// The event's id.
    pub event_id: u64,
    /// Its key.
    pub key: u64,
    /// Its event time.
    pub event_time_ms: i64,
    /// The watermark that made it late.
    pub watermark_ms: i64,
}

/// A record that is not an event, for the dead-letter table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter {
    /// Where it was read.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// Its bytes, as they were.
    pub raw: Vec<u8>,
    /// Why it was refused.
    pub error: String,
}

/// Everything an engine writes in one go: what fired, what was late, what
/// was malformed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutputBatch {
    /// Window results.
    pub results: Vec<WindowResult>,
    /// Per-event rows (per-event jobs).
    #[serde(default)]
    pub rows: Vec<EventRow>,
    /// Late events.
    pub late: Vec<LateEvent>,
    /// Dead letters.
    pub dead_letters: Vec<DeadLetter>,
}

impl OutputBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
            && self.rows.is_empty()
            && self.late.is_empty()
            && self.dead_letters.is_empty()
    }

    /// Moves everything of `other` to the end of this batch.
    pub fn append(&mut self, other: &mut OutputBatch) {
        self.results.append(&mut other.results);
        self.rows.append(&mut other.rows);
        self.late.append(&mut other.late);
        self.dead_letters.append(&mut other.dead_letters);
    }

    /// How many result rows it holds (window results and per-event rows).
    pub fn result_rows(&self) -> usize {
        self.results.len() + self.rows.len()
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.results.len() + self.rows.len() + self.late.len() + self.dead_letters.len()
    }
}
