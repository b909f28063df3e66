//! What a continuous worker runs for its keys: the window operator, or for
//! per-event jobs the rule operator, which writes each event's row the
//! moment the event is processed (no window, no watermark wait).

use streambench_workloads::job::JobSpec;
use streambench_workloads::per_event::{Outcome, RuleState, as_window, from_window};
use streambench_workloads::window::{Keyed, WindowKey};

use super::operator::{Disposition, OperatorState, Slot, WindowOperator};
use crate::output::OutputBatch;

/// A worker's operator.
#[derive(Debug, Clone)]
pub enum KeyedOperator {
    /// Event-time windows.
    Windows(WindowOperator),
    /// A per-event rule.
    Rule(RuleState),
}

impl KeyedOperator {
    /// The operator `job` needs, empty.
    pub fn for_job(job: &JobSpec) -> KeyedOperator {
        if job.window.is_per_event() {
            KeyedOperator::Rule(RuleState::new(&job.window, job.watermark_delay_ms))
        } else {
            let operator = WindowOperator::new(job.window, job.allowed_lateness_ms);
            KeyedOperator::Windows(operator.counting(job.distinct_fields()))
        }
    }

    /// Processes `event`, putting what it fires or raises into `out`.
    pub fn process(&mut self, event: &Keyed, out: &mut OutputBatch) -> Disposition {
        match self {
            KeyedOperator::Windows(windows) => windows.process(event, &mut out.results),
            KeyedOperator::Rule(rule) => match rule.process(event) {
                Outcome::Row(row) => {
                    out.rows.push(row);
                    Disposition::Counted
                }
                Outcome::Quiet => Disposition::Counted,
                Outcome::Late { watermark_ms } => Disposition::Late { watermark_ms },
            },
        }
    }

    /// Moves the watermark (a rule does not wait for it).
    pub fn advance(&mut self, watermark_ms: i64, out: &mut OutputBatch) {
        if let KeyedOperator::Windows(windows) = self {
            windows.advance(watermark_ms, &mut out.results);
        }
    }

    /// A copy of the state, for a checkpoint. A rule's state is written in
    /// the windows' form: each retained `(key, time, events)` as a point
    /// window of that key at that time, counting those events.
    pub fn snapshot(&self) -> OperatorState {
        match self {
            KeyedOperator::Windows(windows) => windows.snapshot(),
            KeyedOperator::Rule(rule) => OperatorState {
                windows: rule.entries().map(point_window).collect(),
            },
        }
    }

    /// Adds restored state (and the watermark it was taken at).
    pub fn restore(&mut self, windows: Vec<(WindowKey, Slot)>, watermark_ms: Option<i64>) {
        match self {
            KeyedOperator::Windows(operator) => operator.restore(windows, watermark_ms),
            KeyedOperator::Rule(rule) => {
                rule.restore(windows.iter().map(|(w, slot)| from_window(w, &slot.aggregate)))
            }
        }
    }
}

/// A rule's retained `(key, time, events)` as a window slot.
fn point_window(entry: (u64, i64, i64)) -> (WindowKey, Slot) {
    let (window, aggregate) = as_window(entry);
    let slot = Slot {
        aggregate,
        next_revision: 0,
    };
    (window, slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use streambench_workloads::job::catalogue_job;

    #[test]
    fn a_restored_rule_raises_what_the_unstopped_one_raises() {
        let job = catalogue_job("fraud").expect("fraud");
        let purchase = |id: u64, t: i64| Keyed {
            event_id: id,
            key: 5,
            event_time_ms: t,
            value: 1,
            ad_id: 1,
            user_id: 5,
            ..Keyed::default()
        };
        let mut whole = KeyedOperator::for_job(&job);
        let mut first = KeyedOperator::for_job(&job);
        let (mut a, mut b) = (OutputBatch::default(), OutputBatch::default());
        for (id, t) in [(0, 1_000), (1, 2_000)] {
            whole.process(&purchase(id, t), &mut a);
            first.process(&purchase(id, t), &mut b);
        }
        let mut restored = KeyedOperator::for_job(&job);
        restored.restore(first.snapshot().windows, None);
        whole.process(&purchase(2, 3_000), &mut a);
        restored.process(&purchase(2, 3_000), &mut b);
        assert_eq!(a.rows.len(), 1, "the third purchase raises a row");
        assert_eq!(a.rows, b.rows);
    }
}
