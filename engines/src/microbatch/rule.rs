//! A per-event job's batch: every record of the batch evaluated in offset
//! order against the rule's state, its rows written when the batch
//! commits. The rule's state lives in the versioned state store in the
//! windows' form (each retained `(key, time, events)` a point window), so
//! it is checkpointed, restored and re-run exactly as window state is.

use std::collections::BTreeMap;

use streambench_workloads::per_event::{EventRow, Outcome, RuleState, as_window, from_window};

use super::frame::OwnedRecord;
use super::state::{Delta, WindowState, Windows};
use crate::output::{DeadLetter, LateEvent};
use crate::record::{Interpreted, Interpreter};

/// What one batch of a per-event job produced.
#[derive(Debug, Default)]
pub struct RuleBatch {
    /// Rows raised.
    pub rows: Vec<EventRow>,
    /// Events too old for their key.
    pub late: Vec<LateEvent>,
    /// Records that are not events.
    pub dead_letters: Vec<DeadLetter>,
    /// Events the job kept.
    pub kept: usize,
    /// The latest event time kept, per partition.
    pub max_event_time_ms: BTreeMap<i32, i64>,
    /// The state entries the batch changed.
    pub delta: Delta,
}

/// The rule state held in `windows` (a loaded state version).
pub fn state_of(job: &streambench_workloads::job::JobSpec, windows: &Windows) -> RuleState {
    let mut state = RuleState::new(&job.window, job.watermark_delay_ms).tracking_changes();
    state.restore(windows.iter().map(|(w, s)| from_window(w, &s.aggregate)));
    state
}

/// Evaluates `records` in order against `state`.
pub fn evaluate(state: &mut RuleState, interpreter: &Interpreter, records: &[OwnedRecord]) -> RuleBatch {
    let mut batch = RuleBatch::default();
    for record in records {
        let event = match interpreter.interpret(record.payload.as_deref()) {
            Interpreted::Kept(event) => event,
            Interpreted::Filtered => continue,
            Interpreted::Malformed(error) => {
                batch.dead_letters.push(DeadLetter {
                    partition: record.partition,
                    offset: record.offset,
                    raw: record.payload.clone().unwrap_or_default(),
                    error,
                });
                continue;
            }
        };
        batch.kept += 1;
        let max = batch
            .max_event_time_ms
            .entry(record.partition)
            .or_insert(i64::MIN);
        *max = (*max).max(event.event_time_ms);
        match state.process(&event) {
            Outcome::Row(row) => batch.rows.push(row),
            Outcome::Quiet => {}
            Outcome::Late { watermark_ms } => batch.late.push(LateEvent {
                partition: record.partition,
                offset: record.offset,
                event_id: event.event_id,
                key: event.key,
                event_time_ms: event.event_time_ms,
                watermark_ms,
            }),
        }
    }
    batch.delta = delta_of(state.take_changes());
    batch
}

/// The state store's delta for the rule entries `changed`.
fn delta_of(changed: Vec<(u64, i64, i64)>) -> Delta {
    let mut delta = Delta::default();
    for entry in changed {
        let (window, aggregate) = as_window(entry);
        if aggregate.count == 0 {
            delta.removes.push(window);
        } else {
            let state = WindowState {
                aggregate,
                next_revision: 0,
            };
            delta.upserts.push((window, state));
        }
    }
    delta
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::microbatch::state::apply;
    use streambench_workloads::event::EventKind;
    use streambench_workloads::generator::{Generator, WorkloadSpec};
    use streambench_workloads::job::catalogue_job;

    #[test]
    fn batches_with_state_between_them_raise_what_one_pass_raises() {
        let job = catalogue_job("fraud").expect("fraud");
        let spec = WorkloadSpec {
            events: Some(6_000),
            users: 50,
            malformed_fraction: 0.01,
            ..WorkloadSpec::default()
        };
        let generator = Generator::new(spec.clone(), EventKind::Ad, 1_700_000_000_000).expect("spec");
        let records: Vec<OwnedRecord> = (0..generator.len())
            .map(|i| {
                let mut bytes = Vec::new();
                let g = generator.write_record(i, &mut bytes);
                OwnedRecord {
                    partition: g.partition as i32,
                    offset: i as i64,
                    payload: Some(bytes),
                }
            })
            .collect();
        let interpreter = Interpreter::new(job.clone(), spec.seed, spec.keys).expect("a catalogue job");
        let mut whole = state_of(&job, &Windows::new());
        let one_pass = evaluate(&mut whole, &interpreter, &records);

        let mut windows = Windows::new();
        let mut rows = Vec::new();
        for chunk in records.chunks(700) {
            // Each batch starts from the stored version, as after a restart.
            let mut state = state_of(&job, &windows);
            let batch = evaluate(&mut state, &interpreter, chunk);
            apply(&mut windows, &batch.delta);
            rows.extend(batch.rows);
        }
        assert!(one_pass.rows.len() > 10, "{} rows", one_pass.rows.len());
        assert_eq!(rows, one_pass.rows);
        assert_eq!(windows.len(), whole.len());
        assert!(!one_pass.dead_letters.is_empty());
    }
}
