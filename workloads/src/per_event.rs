//! Per-event jobs: a row per event as soon as it is processed, no window and
//! no watermark wait. These are the jobs (alerting, fraud rules) where the
//! choice between event-by-event and micro-batch matters most.
//!
//! The `fraud` rule ([`WindowSpec::Burst`]) is evaluated per key in arrival
//! order, which is deterministic because a key's events all live in one
//! Kafka partition and are read in offset order. On each event at time `t`
//! it counts the key's events that arrived before it, or are it, with an
//! event time in `(t - within, t]`; out-of-order events count where their
//! event time puts them, among the events already arrived. An event more
//! than the job's watermark delay older than the newest event of its key is
//! late: it raises nothing and goes to the late side output, as a window
//! job's late event does. That bound is what lets state be dropped: an
//! event at or before `newest - delay - within` can never be counted again.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::window::{Keyed, WindowAggregate, WindowKey, WindowSpec};

/// One row of a per-event job's result table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventRow {
    /// The event that raised the row: the row's identity (upsert key).
    pub event_id: u64,
    /// Its event time.
    pub event_time_ms: i64,
    /// The job's key: the campaign (`alerts`), the user (`fraud`), or a
    /// declared job's key (a key of text or several fields by its id,
    /// [`crate::key_names`]).
    pub key: u64,
    /// The event's ad.
    pub ad_id: u64,
    /// The event's user.
    pub user_id: u64,
    /// Events counted by the rule, the raising one included (1 for `alerts`).
    pub count: i64,
}

impl EventRow {
    /// The row `event` raises with `count`.
    pub fn of(event: &Keyed, count: i64) -> EventRow {
        EventRow {
            event_id: event.event_id,
            event_time_ms: event.event_time_ms,
            key: event.key,
            ad_id: event.ad_id,
            user_id: event.user_id,
            count,
        }
    }
}

/// A per-event job's result columns, in the order of [`EventRow`]'s fields.
pub const EVENT_ROW_COLUMNS: [&str; 6] = [
    "event_id",
    "event_time_ms",
    "key",
    "ad_id",
    "user_id",
    "event_count",
];

/// What a per-event rule did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It raised a row.
    Row(EventRow),
    /// It was evaluated and raised nothing.
    Quiet,
    /// Too old for its key: for the side output, with the bound it missed.
    Late {
        /// The newest event time of the key minus the watermark delay.
        watermark_ms: i64,
    },
}

/// The per-key state of a per-event job, kept by both of streambench's
/// engines: for [`WindowSpec::Burst`], each key's recent event times with
/// how many events fell on each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleState {
    within_ms: i64,
    at_least: i64,
    delay_ms: i64,
    each: bool,
    keys: HashMap<u64, BTreeMap<i64, i64>>,
    /// `(key, time)` entries added or dropped since the last
    /// [`RuleState::take_changes`], when changes are tracked.
    changed: Option<Vec<(u64, i64)>>,
}

impl RuleState {
    /// Empty state for `window` (a per-event spec) with the job's watermark delay.
    pub fn new(window: &WindowSpec, delay_ms: i64) -> RuleState {
        let (each, within_ms, at_least) = match *window {
            WindowSpec::Burst { within_ms, at_least } => (false, within_ms, at_least),
            _ => (true, 0, 0),
        };
        RuleState {
            within_ms,
            at_least,
            delay_ms,
            each,
            keys: HashMap::new(),
            changed: None,
        }
    }

    /// The same state, recording what changes, for a store that writes
    /// deltas (the micro-batch engine's).
    pub fn tracking_changes(mut self) -> RuleState {
        self.changed = Some(Vec::new());
        self
    }

    /// Every `(key, time, events now held)` changed since the last call; 0
    /// events means the entry was dropped.
    pub fn take_changes(&mut self) -> Vec<(u64, i64, i64)> {
        let mut changed = self.changed.replace(Vec::new()).unwrap_or_default();
        changed.sort_unstable();
        changed.dedup();
        changed
            .into_iter()
            .map(|(key, time)| (key, time, self.held(key, time)))
            .collect()
    }

    /// Evaluates `event`, which arrived after every event evaluated before.
    pub fn process(&mut self, event: &Keyed) -> Outcome {
        if self.each {
            return Outcome::Row(EventRow::of(event, 1));
        }
        let times = self.keys.entry(event.key).or_default();
        let newest = times.keys().next_back().copied().unwrap_or(i64::MIN);
        let bound = newest.saturating_sub(self.delay_ms);
        if event.event_time_ms < bound {
            return Outcome::Late { watermark_ms: bound };
        }
        let t = event.event_time_ms;
        *times.entry(t).or_insert(0) += 1;
        let count: i64 = times.range(t - self.within_ms + 1..=t).map(|(_, n)| n).sum();
        let keep_from = newest.max(t) - self.delay_ms - self.within_ms + 1;
        let mut dropped = Vec::new();
        while times.first_key_value().is_some_and(|(time, _)| *time < keep_from) {
            dropped.extend(times.pop_first().map(|(time, _)| time));
        }
        if let Some(changed) = &mut self.changed {
            changed.push((event.key, t));
            changed.extend(dropped.into_iter().map(|time| (event.key, time)));
        }
        if count >= self.at_least {
            Outcome::Row(EventRow::of(event, count))
        } else {
            Outcome::Quiet
        }
    }

    /// Every `(key, event time, events at that time)` held, for a checkpoint.
    pub fn entries(&self) -> impl Iterator<Item = (u64, i64, i64)> + '_ {
        self.keys
            .iter()
            .flat_map(|(key, times)| times.iter().map(move |(t, n)| (*key, *t, *n)))
    }

    /// How many events at `time_ms` of `key` the state holds (0 once dropped).
    pub fn held(&self, key: u64, time_ms: i64) -> i64 {
        self.keys
            .get(&key)
            .and_then(|times| times.get(&time_ms))
            .copied()
            .unwrap_or(0)
    }

    /// Puts back what [`RuleState::entries`] gave.
    pub fn restore(&mut self, entries: impl IntoIterator<Item = (u64, i64, i64)>) {
        for (key, time, n) in entries {
            self.keys.entry(key).or_default().insert(time, n);
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.keys.values().map(BTreeMap::len).sum()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A retained `(key, time, events)` entry in the form the engines' state
/// stores hold windows in: the point window of `key` at `time`, counting
/// `events`; [`from_window`] reads it back.
pub fn as_window((key, time_ms, events): (u64, i64, i64)) -> (WindowKey, WindowAggregate) {
    let window = WindowKey {
        key,
        window_start_ms: time_ms,
        window_end_ms: time_ms,
    };
    let aggregate = WindowAggregate {
        count: events,
        sum: events,
        min: 1,
        max: 1,
        first_event_time_ms: time_ms,
        last_event_time_ms: time_ms,
        ..WindowAggregate::default()
    };
    (window, aggregate)
}

/// The `(key, time, events)` entry a point window stands for: the inverse
/// of [`as_window`], for restoring state.
pub fn from_window(window: &WindowKey, aggregate: &WindowAggregate) -> (u64, i64, i64) {
    (window.key, window.window_start_ms, aggregate.count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(event_id: u64, user: u64, t: i64) -> Keyed {
        Keyed {
            event_id,
            key: user,
            event_time_ms: t,
            value: 1,
            ad_id: 7,
            user_id: user,
            ..Keyed::default()
        }
    }

    fn burst() -> RuleState {
        RuleState::new(
            &WindowSpec::Burst {
                within_ms: 60_000,
                at_least: 3,
            },
            5_000,
        )
    }

    #[test]
    fn the_third_event_within_a_minute_raises_a_row_and_the_window_is_open_below() {
        let mut state = burst();
        assert_eq!(state.process(&purchase(0, 1, 0)), Outcome::Quiet);
        assert_eq!(state.process(&purchase(1, 1, 30_000)), Outcome::Quiet);
        assert_eq!(
            state.process(&purchase(2, 2, 30_000)),
            Outcome::Quiet,
            "other user"
        );
        let Outcome::Row(row) = state.process(&purchase(3, 1, 59_999)) else {
            panic!("third within 60 s");
        };
        assert_eq!((row.event_id, row.key, row.count), (3, 1, 3));
        // (60_000 - 60_000, 60_000] leaves out the event at 0.
        let Outcome::Row(row) = state.process(&purchase(4, 1, 60_000)) else {
            panic!("still three");
        };
        assert_eq!(row.count, 3);
    }

    #[test]
    fn out_of_order_events_count_where_their_time_puts_them_and_older_ones_are_late() {
        let mut state = burst();
        state.process(&purchase(0, 1, 100_000));
        state.process(&purchase(1, 1, 101_000));
        // Arrives third, dated before both: its window (36_000, 96_000] holds nothing else.
        assert_eq!(state.process(&purchase(2, 1, 96_000)), Outcome::Quiet);
        assert_eq!(
            state.process(&purchase(3, 1, 95_999)),
            Outcome::Late { watermark_ms: 96_000 }
        );
        let Outcome::Row(row) = state.process(&purchase(4, 1, 102_000)) else {
            panic!("four within 60 s");
        };
        assert_eq!(row.count, 4);
    }

    #[test]
    fn state_keeps_only_what_a_future_event_can_count_and_restores_whole() {
        let mut state = burst().tracking_changes();
        for (i, t) in [0, 10_000, 200_000].into_iter().enumerate() {
            state.process(&purchase(i as u64, 1, t));
        }
        assert_eq!(state.len(), 1, "200 s is past 0 and 10 s by more than 65 s");
        assert_eq!(
            state.take_changes(),
            vec![(1, 0, 0), (1, 10_000, 0), (1, 200_000, 1)]
        );
        assert!(state.take_changes().is_empty());
        let mut restored = burst().tracking_changes();
        restored.restore(state.entries());
        assert_eq!(restored, state);
        assert_eq!(restored.held(1, 200_000), 1);
    }

    #[test]
    fn each_raises_a_row_for_every_event() {
        let mut state = RuleState::new(&WindowSpec::Each, 5_000);
        let Outcome::Row(row) = state.process(&purchase(9, 3, 5)) else {
            panic!("every event");
        };
        assert_eq!((row.event_id, row.ad_id, row.user_id, row.count), (9, 7, 3, 1));
        assert!(state.is_empty());
    }
}
