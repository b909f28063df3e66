//! The keyed event-time window operator of the continuous engine, with
//! Flink's semantics: each event updates its windows' aggregates on arrival
//! (no raw events kept); a window fires once when the watermark reaches its
//! end; with allowed lateness L, an event for a fired window whose
//! end + L is still above the watermark updates it and fires it again
//! (revision + 1); an event whose every window is past end + L is late and
//! goes to the side output. State is dropped once the watermark passes
//! end + L. Sessions merge when an event bridges them.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use streambench_workloads::distinct::FieldSet;
use streambench_workloads::window::{Keyed, WindowAggregate, WindowKey, WindowSpec};

use crate::output::WindowResult;

/// One window's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// The aggregates so far.
    pub aggregate: WindowAggregate,
    /// The revision its next firing gets: 0 until it first fires.
    pub next_revision: i64,
}

/// What the operator did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Counted in at least one window.
    Counted,
    /// Too late for every window: for the side output, with the watermark
    /// that made it late.
    Late {
        /// The watermark at the time.
        watermark_ms: i64,
    },
}

/// The operator's state, as a checkpoint holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperatorState {
    /// Every open window.
    pub windows: Vec<(WindowKey, Slot)>,
}

/// Window slots kept in one contiguous array (with an index by window), so
/// that the copy a checkpoint takes is a single bulk copy: the pause.
#[derive(Debug, Clone, Default)]
struct SlotTable {
    entries: Vec<(WindowKey, Slot)>,
    index: HashMap<WindowKey, usize>,
}

impl SlotTable {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn get_mut(&mut self, window: &WindowKey) -> Option<&mut Slot> {
        let at = *self.index.get(window)?;
        Some(&mut self.entries[at].1)
    }

    fn insert(&mut self, window: WindowKey, slot: Slot) -> &mut Slot {
        let at = match self.index.get(&window) {
            Some(&at) => {
                self.entries[at].1 = slot;
                at
            }
            None => {
                self.index.insert(window, self.entries.len());
                self.entries.push((window, slot));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at].1
    }

    fn remove(&mut self, window: &WindowKey) -> Option<Slot> {
        let at = self.index.remove(window)?;
        let (_, slot) = self.entries.swap_remove(at);
        if let Some((moved, _)) = self.entries.get(at) {
            self.index.insert(*moved, at);
        }
        Some(slot)
    }
}

/// Window state and timers for the keys one worker owns.
#[derive(Debug, Clone)]
pub struct WindowOperator {
    spec: WindowSpec,
    lateness_ms: i64,
    /// The fields whose distinct values each window keeps.
    distinct: FieldSet,
    watermark_ms: Option<i64>,
    slots: SlotTable,
    /// Windows waiting to fire, by end.
    fire_at: BTreeSet<(i64, WindowKey)>,
    /// Windows waiting to be dropped, by end + lateness.
    drop_at: BTreeSet<(i64, WindowKey)>,
    /// Each key's open sessions (session windows only).
    sessions: HashMap<u64, Vec<WindowKey>>,
}

impl WindowOperator {
    /// An empty operator for `spec` with allowed lateness `lateness_ms`.
    pub fn new(spec: WindowSpec, lateness_ms: i64) -> WindowOperator {
        WindowOperator {
            spec,
            lateness_ms,
            distinct: FieldSet::NONE,
            watermark_ms: None,
            slots: SlotTable::default(),
            fire_at: BTreeSet::new(),
            drop_at: BTreeSet::new(),
            sessions: HashMap::new(),
        }
    }

    /// The same, its windows keeping the distinct values of `distinct`.
    pub fn counting(self, distinct: FieldSet) -> WindowOperator {
        WindowOperator { distinct, ..self }
    }

    /// Open windows.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no window is open.
    pub fn is_empty(&self) -> bool {
        self.slots.len() == 0
    }

    /// The watermark the operator last saw.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark_ms
    }

    fn is_past(&self, time_ms: i64) -> bool {
        self.watermark_ms.is_some_and(|w| time_ms <= w)
    }

    /// Adds `event` to its windows; re-fires (into `fired`) windows already
    /// fired and still within lateness.
    pub fn process(&mut self, event: &Keyed, fired: &mut Vec<WindowResult>) -> Disposition {
        if self.is_past(self.spec.last_end(event.event_time_ms) + self.lateness_ms) {
            return Disposition::Late {
                watermark_ms: self.watermark_ms.unwrap_or(i64::MIN),
            };
        }
        match self.spec {
            WindowSpec::Session { gap_ms } => self.add_to_session(event, gap_ms, fired),
            _ => {
                for (start, end) in self.spec.fixed_windows(event.event_time_ms) {
                    if self.is_past(end + self.lateness_ms) {
                        continue;
                    }
                    let window = WindowKey {
                        key: event.key,
                        window_start_ms: start,
                        window_end_ms: end,
                    };
                    let aggregate = WindowAggregate::counting(event, self.distinct);
                    self.add_to_window(window, aggregate, 0, fired);
                }
            }
        }
        Disposition::Counted
    }

    /// Adds `aggregate` to `window`, creating it (with `next_revision`) if
    /// new; fires it at once if the watermark is already past its end.
    fn add_to_window(
        &mut self,
        window: WindowKey,
        aggregate: WindowAggregate,
        next_revision: i64,
        fired: &mut Vec<WindowResult>,
    ) {
        let already_past = self.is_past(window.window_end_ms);
        let slot = match self.slots.get_mut(&window) {
            Some(slot) => {
                slot.aggregate.merge(&aggregate);
                slot
            }
            None => {
                if !already_past {
                    self.fire_at.insert((window.window_end_ms, window));
                }
                self.drop_at
                    .insert((window.window_end_ms + self.lateness_ms, window));
                self.slots.insert(
                    window,
                    Slot {
                        aggregate,
                        next_revision,
                    },
                )
            }
        };
        if already_past {
            fired.push(WindowResult {
                window,
                aggregate: slot.aggregate.clone(),
                revision: slot.next_revision,
            });
            slot.next_revision += 1;
        }
    }

    fn add_to_session(&mut self, event: &Keyed, gap_ms: i64, fired: &mut Vec<WindowResult>) {
        let start = event.event_time_ms;
        let end = start + gap_ms;
        let mut merged = WindowAggregate::counting(event, self.distinct);
        let mut next_revision = 0;
        let open = self.sessions.entry(event.key).or_default();
        let (overlapping, rest): (Vec<WindowKey>, Vec<WindowKey>) = open
            .drain(..)
            // Touching windows merge too, as in Flink and Spark.
            .partition(|w| w.window_start_ms <= end && start <= w.window_end_ms);
        *open = rest;
        for window in overlapping {
            if let Some(slot) = self.slots.remove(&window) {
                merged.merge(&slot.aggregate);
                next_revision = next_revision.max(slot.next_revision);
            }
            self.fire_at.remove(&(window.window_end_ms, window));
            self.drop_at
                .remove(&(window.window_end_ms + self.lateness_ms, window));
        }
        let window = WindowKey {
            key: event.key,
            window_start_ms: merged.first_event_time_ms,
            window_end_ms: merged.last_event_time_ms + gap_ms,
        };
        self.sessions.entry(event.key).or_default().push(window);
        self.add_to_window(window, merged, next_revision, fired);
    }

    /// Moves the watermark to `watermark_ms`: fires (into `fired`) every
    /// window whose end it reached, drops every window past end + lateness.
    pub fn advance(&mut self, watermark_ms: i64, fired: &mut Vec<WindowResult>) {
        if self.watermark_ms.is_some_and(|w| watermark_ms <= w) {
            return;
        }
        self.watermark_ms = Some(watermark_ms);
        while let Some(&(end, window)) = self.fire_at.first() {
            if end > watermark_ms {
                break;
            }
            self.fire_at.pop_first();
            if let Some(slot) = self.slots.get_mut(&window) {
                fired.push(WindowResult {
                    window,
                    aggregate: slot.aggregate.clone(),
                    revision: slot.next_revision,
                });
                slot.next_revision += 1;
            }
        }
        while let Some(&(drop_time, window)) = self.drop_at.first() {
            if drop_time > watermark_ms {
                break;
            }
            self.drop_at.pop_first();
            self.slots.remove(&window);
            if let Some(open) = self.sessions.get_mut(&window.key) {
                open.retain(|w| *w != window);
                if open.is_empty() {
                    self.sessions.remove(&window.key);
                }
            }
        }
    }

    /// A copy of the state, for a checkpoint.
    pub fn snapshot(&self) -> OperatorState {
        OperatorState {
            windows: self.slots.entries.clone(),
        }
    }

    /// Adds restored windows (and the watermark they were taken at).
    pub fn restore(
        &mut self,
        windows: impl IntoIterator<Item = (WindowKey, Slot)>,
        watermark_ms: Option<i64>,
    ) {
        self.watermark_ms = watermark_ms;
        for (window, slot) in windows {
            if slot.next_revision == 0 {
                self.fire_at.insert((window.window_end_ms, window));
            }
            self.drop_at
                .insert((window.window_end_ms + self.lateness_ms, window));
            if matches!(self.spec, WindowSpec::Session { .. }) {
                self.sessions.entry(window.key).or_default().push(window);
            }
            self.slots.insert(window, slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use streambench_workloads::window::windows_of;

    fn keyed(event_id: u64, key: u64, event_time_ms: i64, value: i64) -> Keyed {
        Keyed {
            event_id,
            key,
            event_time_ms,
            value,
            ..Keyed::default()
        }
    }

    /// Feeds events in order, advancing the watermark (max - delay) after
    /// each, then to the end; returns the final row of every window and the
    /// late events.
    fn run(
        spec: WindowSpec,
        lateness_ms: i64,
        delay_ms: i64,
        events: &[Keyed],
    ) -> (BTreeMap<WindowKey, WindowResult>, Vec<u64>, usize) {
        let mut operator = WindowOperator::new(spec, lateness_ms);
        let mut fired = Vec::new();
        let mut late = Vec::new();
        let mut max = i64::MIN;
        for event in events {
            if let Disposition::Late { .. } = operator.process(event, &mut fired) {
                late.push(event.event_id);
            }
            max = max.max(event.event_time_ms);
            operator.advance(max - delay_ms, &mut fired);
        }
        operator.advance(i64::MAX / 2, &mut fired);
        assert!(operator.is_empty(), "every window is dropped at the end");
        let firings = fired.len();
        let mut last = BTreeMap::new();
        for result in fired {
            let revision = result.revision;
            let previous = last.insert(result.window, result);
            if let Some(previous) = previous {
                assert_eq!(previous.revision + 1, revision, "revisions count up");
            } else {
                assert_eq!(revision, 0);
            }
        }
        (last, late, firings)
    }

    fn specs() -> impl Strategy<Value = WindowSpec> {
        prop_oneof![
            (1i64..50).prop_map(|size_ms| WindowSpec::Tumbling { size_ms }),
            (1i64..20, 1i64..4).prop_map(|(slide_ms, k)| WindowSpec::Sliding {
                size_ms: slide_ms * k,
                slide_ms
            }),
            (1i64..30).prop_map(|gap_ms| WindowSpec::Session { gap_ms }),
        ]
    }

    proptest! {
        /// Events out of order by less than the watermark delay are never
        /// late, and every window ends up exactly as the oracle computes it.
        #[test]
        fn within_the_bound_every_window_equals_the_oracle(
            spec in specs(),
            raw in prop::collection::vec((0u64..4, 0i64..400, -5i64..5, 0i64..20), 1..120),
        ) {
            let delay_ms = 25;
            // Out of order by at most delay_ms - 1 against the running max.
            let mut max = i64::MIN;
            let events: Vec<Keyed> = raw.iter().enumerate().map(|(i, &(key, t, value, back))| {
                let time = match max {
                    i64::MIN => t,
                    _ if back > 0 => max - back.min(delay_ms - 1),
                    _ => max + t % 7,
                };
                max = max.max(time);
                keyed(i as u64, key, time, value)
            }).collect();
            let (rows, late, _) = run(spec, 0, delay_ms, &events);
            prop_assert!(late.is_empty());
            let expected = windows_of(&spec, &events);
            prop_assert_eq!(rows.len(), expected.len());
            for (window, aggregate) in expected {
                prop_assert_eq!(rows.get(&window).map(|r| r.aggregate.clone()), Some(aggregate), "{:?}", window);
            }
        }
    }

    #[test]
    fn late_events_within_lateness_update_and_beyond_it_go_to_the_side_output() {
        let spec = WindowSpec::Tumbling { size_ms: 10 };
        let events = [
            keyed(0, 1, 5, 1),  // window [0, 10)
            keyed(1, 1, 30, 1), // watermark 30: [0, 10) fires
            keyed(2, 1, 7, 1),  // within lateness 25: [0, 10) fires again, revision 1
            keyed(3, 1, 50, 1), // watermark 50: [0, 10) dropped (10 + 25 <= 50)
            keyed(4, 1, 8, 1),  // late for good
        ];
        let (rows, late, firings) = run(spec, 25, 0, &events);
        let first = &rows[&WindowKey {
            key: 1,
            window_start_ms: 0,
            window_end_ms: 10,
        }];
        assert_eq!((first.aggregate.count, first.revision), (2, 1));
        assert_eq!(late, vec![4]);
        assert_eq!(firings, 4, "[0,10) twice, [30,40) and [50,60) once");
    }

    #[test]
    fn a_sliding_event_counts_in_the_windows_still_open() {
        let spec = WindowSpec::Sliding {
            size_ms: 30,
            slide_ms: 10,
        };
        let mut operator = WindowOperator::new(spec, 0);
        let mut fired = Vec::new();
        operator.advance(20, &mut fired);
        // Windows of t=15: [-10,20) closed, [0,30) and [10,40) open.
        assert_eq!(
            operator.process(&keyed(0, 1, 15, 1), &mut fired),
            Disposition::Counted
        );
        assert_eq!(operator.len(), 2);
        operator.advance(40, &mut fired);
        assert_eq!(fired.len(), 2);
        assert_eq!(
            operator.process(&keyed(1, 1, 15, 1), &mut fired),
            Disposition::Late { watermark_ms: 40 }
        );
    }

    #[test]
    fn a_restored_operator_continues_as_if_never_stopped() {
        let spec = WindowSpec::Session { gap_ms: 10 };
        let events: Vec<Keyed> = (0..40).map(|i| keyed(i, i % 3, (i as i64) * 4, 1)).collect();
        let (whole, _, _) = run(spec, 5, 3, &events);

        let mut first = WindowOperator::new(spec, 5);
        let mut fired = Vec::new();
        let mut max = i64::MIN;
        for event in &events[..20] {
            first.process(event, &mut fired);
            max = max.max(event.event_time_ms);
            first.advance(max - 3, &mut fired);
        }
        let state = first.snapshot();
        let mut second = WindowOperator::new(spec, 5);
        second.restore(state.windows, first.watermark());
        for event in &events[20..] {
            second.process(event, &mut fired);
            max = max.max(event.event_time_ms);
            second.advance(max - 3, &mut fired);
        }
        second.advance(i64::MAX / 2, &mut fired);
        let mut resumed = BTreeMap::new();
        for result in fired {
            resumed.insert(result.window, result);
        }
        assert_eq!(resumed, whole);
    }
}
