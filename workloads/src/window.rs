//! Event-time windows and the aggregates kept per window: the semantics both
//! engines implement and the oracle computes exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::distinct::{self, DistinctValues, FieldSet};
use crate::invalid::Invalid;
use crate::job::Aggregate;

/// How events are grouped in time. Windows are aligned to the Unix epoch,
/// as Flink and Spark align them; `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowSpec {
    /// Back-to-back windows of one size.
    Tumbling {
        /// Window length.
        size_ms: i64,
    },
    /// Overlapping windows of one size, one starting every `slide_ms`; an
    /// event belongs to `size_ms / slide_ms` of them.
    Sliding {
        /// Window length.
        size_ms: i64,
        /// Distance between window starts.
        slide_ms: i64,
    },
    /// Per key, events closer than `gap_ms` share a session, which ends
    /// `gap_ms` after its last event.
    Session {
        /// The inactivity gap that closes a session.
        gap_ms: i64,
    },
    /// No window: a row for every kept event, as soon as it is processed
    /// (the `alerts` job).
    Each,
    /// No window: per key, a row on each event that brings the key's events
    /// within the preceding `within_ms` of event time, `(t - within_ms, t]`,
    /// to `at_least` or more (the `fraud` job). Rules are evaluated per key in
    /// arrival order; see [`crate::per_event`].
    Burst {
        /// How far back the rule looks.
        within_ms: i64,
        /// How many events within it raise a row.
        at_least: i64,
    },
}

/// One window of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WindowKey {
    /// The grouping key.
    pub key: u64,
    /// Inclusive start, in ms since the epoch.
    pub window_start_ms: i64,
    /// Exclusive end, in ms since the epoch.
    pub window_end_ms: i64,
}

impl WindowSpec {
    /// Why the window cannot be used, if it cannot.
    pub fn validate(&self) -> Result<(), Invalid> {
        match *self {
            WindowSpec::Tumbling { size_ms } if size_ms <= 0 => {
                Err(Invalid(format!("size_ms must be positive, not {size_ms}")))
            }
            WindowSpec::Sliding { size_ms, slide_ms }
                if size_ms <= 0 || slide_ms <= 0 || size_ms % slide_ms != 0 =>
            {
                Err(Invalid(format!(
                    "size_ms ({size_ms}) must be a positive multiple of a positive slide_ms ({slide_ms})"
                )))
            }
            WindowSpec::Session { gap_ms } if gap_ms <= 0 => {
                Err(Invalid(format!("gap_ms must be positive, not {gap_ms}")))
            }
            WindowSpec::Burst { within_ms, at_least } if within_ms <= 0 || at_least <= 0 => Err(Invalid(
                format!("within_ms ({within_ms}) and at_least ({at_least}) must be positive"),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the job writes a row per event rather than per window.
    pub fn is_per_event(&self) -> bool {
        matches!(self, WindowSpec::Each | WindowSpec::Burst { .. })
    }

    /// The `(start, end)` of every fixed window holding `event_time_ms`, oldest
    /// first; empty for sessions, which depend on other events, and for
    /// per-event jobs.
    pub fn fixed_windows(&self, event_time_ms: i64) -> impl Iterator<Item = (i64, i64)> + use<> {
        let (size, slide) = match *self {
            WindowSpec::Tumbling { size_ms } => (size_ms, size_ms),
            WindowSpec::Sliding { size_ms, slide_ms } => (size_ms, slide_ms),
            WindowSpec::Session { .. } | WindowSpec::Each | WindowSpec::Burst { .. } => (1, 0),
        };
        let last_start = if slide == 0 {
            0
        } else {
            event_time_ms - event_time_ms.rem_euclid(slide)
        };
        let count = if slide == 0 { 0 } else { size / slide };
        (0..count).rev().map(move |k| {
            let start = last_start - k * slide;
            (start, start + size)
        })
    }

    /// The latest end of any window holding an event at `event_time_ms`:
    /// once the watermark passes it (plus allowed lateness), the event is late.
    pub fn last_end(&self, event_time_ms: i64) -> i64 {
        match *self {
            WindowSpec::Session { gap_ms } => event_time_ms + gap_ms,
            WindowSpec::Each | WindowSpec::Burst { .. } => event_time_ms,
            _ => self
                .fixed_windows(event_time_ms)
                .last()
                .map_or(event_time_ms, |(_, end)| end),
        }
    }
}

/// How many fields a job's aggregates may read (besides the event time):
/// the event's `value` and up to three `more`.
pub const MAX_VALUE_FIELDS: usize = 4;

/// What a job does with an event once it has picked it: its key, its time,
/// its value (1 for jobs that only count) and, for a job aggregating
/// several fields, theirs; and for per-event jobs on ad events the ad and
/// user their rows carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyed {
    /// The event's sequence number.
    pub event_id: u64,
    /// The grouping key.
    pub key: u64,
    /// The event time, in ms since the epoch.
    pub event_time_ms: i64,
    /// The value aggregated (the first field a job's aggregates read).
    pub value: i64,
    /// The values of the other fields a job's aggregates read, in order
    /// (0 past the last). Left out of checkpoints when all 0, as for every
    /// job that reads one field.
    #[serde(default, skip_serializing_if = "all_zero")]
    pub more: [i64; MAX_VALUE_FIELDS - 1],
    /// The ad of an ad event (0 for measurements).
    #[serde(default)]
    pub ad_id: u64,
    /// The user of an ad event (0 for measurements).
    #[serde(default)]
    pub user_id: u64,
}

/// Every aggregate of one window, kept incrementally (count, sum, min, max,
/// first and last event time, and the values of the first and last events;
/// the mean is derived). All exact integers, so every engine must agree to
/// the last digit. The first and last events are ordered by event time,
/// then event id, so that no engine's arrival order decides them. A job
/// that counts distinct values keeps them too ([`crate::distinct`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowAggregate {
    /// Events in the window.
    pub count: i64,
    /// Sum of their values.
    pub sum: i64,
    /// Smallest value.
    pub min: i64,
    /// Largest value.
    pub max: i64,
    /// Earliest event time.
    pub first_event_time_ms: i64,
    /// Latest event time.
    pub last_event_time_ms: i64,
    /// The id of the earliest event (the first of those at its time).
    #[serde(default)]
    pub first_event_id: u64,
    /// Its value.
    #[serde(default)]
    pub first_value: i64,
    /// The id of the latest event (the last of those at its time).
    #[serde(default)]
    pub last_event_id: u64,
    /// Its value.
    #[serde(default)]
    pub last_value: i64,
    /// The same of the other fields the job reads ([`Keyed::more`]); left
    /// out of checkpoints when all 0, as for every job that reads one field.
    #[serde(default, skip_serializing_if = "all_zero")]
    pub more: [FieldAggregate; MAX_VALUE_FIELDS - 1],
    /// The distinct values of the fields the job counts them of (none for
    /// most jobs, and then left out of checkpoints).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distinct: Vec<DistinctValues>,
}

/// Whether every item of `items` is its type's default (0).
fn all_zero<T: Default + PartialEq>(items: &[T; MAX_VALUE_FIELDS - 1]) -> bool {
    items.iter().all(|item| *item == T::default())
}

/// One field's aggregates in a window besides the first field's (whose
/// are [`WindowAggregate`]'s own): sum, min, max, and the values of the
/// window's first and last events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldAggregate {
    /// Sum of the values.
    pub sum: i64,
    /// Smallest value.
    pub min: i64,
    /// Largest value.
    pub max: i64,
    /// The value of the window's first event.
    pub first: i64,
    /// The value of the window's last event.
    pub last: i64,
}

impl FieldAggregate {
    fn of(value: i64) -> FieldAggregate {
        FieldAggregate {
            sum: value,
            min: value,
            max: value,
            first: value,
            last: value,
        }
    }
}

/// An aggregate's value in a result row: a whole number (in the units the
/// engines aggregate in), or the mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum AggregateValue {
    /// Count, sum, min, max, first or last.
    Whole(i64),
    /// The mean.
    Mean(f64),
}

impl WindowAggregate {
    /// The aggregate of one event.
    pub fn of(event: &Keyed) -> WindowAggregate {
        WindowAggregate {
            count: 1,
            sum: event.value,
            min: event.value,
            max: event.value,
            first_event_time_ms: event.event_time_ms,
            last_event_time_ms: event.event_time_ms,
            first_event_id: event.event_id,
            first_value: event.value,
            last_event_id: event.event_id,
            last_value: event.value,
            more: event.more.map(FieldAggregate::of),
            distinct: Vec::new(),
        }
    }

    /// The aggregate of one event, counting the distinct values of `fields`.
    pub fn counting(event: &Keyed, fields: FieldSet) -> WindowAggregate {
        WindowAggregate {
            distinct: distinct::of_event(event, fields),
            ..WindowAggregate::of(event)
        }
    }

    /// Adds one event.
    pub fn add(&mut self, event: &Keyed) {
        self.merge(&WindowAggregate::of(event));
        for set in &mut self.distinct {
            set.values.insert(distinct::field_value(event, set.field));
        }
    }

    /// Adds another window's events (session merging, state merging).
    pub fn merge(&mut self, other: &WindowAggregate) {
        self.count += other.count;
        // A field counted distinct by id sums ids, never written: wrapping
        // is as a release build adds, without a debug build's panic.
        self.sum = self.sum.wrapping_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        let earlier = (other.first_event_time_ms, other.first_event_id)
            < (self.first_event_time_ms, self.first_event_id);
        if earlier {
            self.first_event_time_ms = other.first_event_time_ms;
            self.first_event_id = other.first_event_id;
            self.first_value = other.first_value;
        }
        let later =
            (other.last_event_time_ms, other.last_event_id) > (self.last_event_time_ms, self.last_event_id);
        if later {
            self.last_event_time_ms = other.last_event_time_ms;
            self.last_event_id = other.last_event_id;
            self.last_value = other.last_value;
        }
        for (mine, theirs) in self.more.iter_mut().zip(&other.more) {
            mine.sum = mine.sum.wrapping_add(theirs.sum);
            mine.min = mine.min.min(theirs.min);
            mine.max = mine.max.max(theirs.max);
            if earlier {
                mine.first = theirs.first;
            }
            if later {
                mine.last = theirs.last;
            }
        }
        distinct::merge(&mut self.distinct, &other.distinct);
    }

    /// `aggregate` of the job's field `field` (0 for the first it reads).
    pub fn value_of(&self, aggregate: Aggregate, field: usize) -> AggregateValue {
        let values = match field {
            0 => FieldAggregate {
                sum: self.sum,
                min: self.min,
                max: self.max,
                first: self.first_value,
                last: self.last_value,
            },
            _ => self.more[field - 1],
        };
        AggregateValue::Whole(match aggregate {
            Aggregate::Count => self.count,
            Aggregate::Sum => values.sum,
            Aggregate::Min => values.min,
            Aggregate::Max => values.max,
            Aggregate::FirstValue => values.first,
            Aggregate::LastValue => values.last,
            Aggregate::FirstEventTime => self.first_event_time_ms,
            Aggregate::LastEventTime => self.last_event_time_ms,
            Aggregate::CountDistinct => distinct::count(&self.distinct, field),
            Aggregate::Mean => return AggregateValue::Mean(values.sum as f64 / self.count as f64),
        })
    }

    /// The mean value.
    pub fn mean(&self) -> f64 {
        self.sum as f64 / self.count as f64
    }
}

/// The windows of a whole set of events, computed in one pass (fixed
/// windows) or by sorting each key's events (sessions).
pub fn windows_of<'a>(
    spec: &WindowSpec,
    events: impl IntoIterator<Item = &'a Keyed>,
) -> BTreeMap<WindowKey, WindowAggregate> {
    windows_counting(spec, FieldSet::NONE, events)
}

/// The same, counting the distinct values of `distinct`.
pub fn windows_counting<'a>(
    spec: &WindowSpec,
    distinct: FieldSet,
    events: impl IntoIterator<Item = &'a Keyed>,
) -> BTreeMap<WindowKey, WindowAggregate> {
    let of = |event: &Keyed| WindowAggregate::counting(event, distinct);
    let mut windows: BTreeMap<WindowKey, WindowAggregate> = BTreeMap::new();
    match *spec {
        WindowSpec::Session { gap_ms } => {
            let mut by_key: BTreeMap<u64, Vec<&Keyed>> = BTreeMap::new();
            for event in events {
                by_key.entry(event.key).or_default().push(event);
            }
            for (key, mut list) in by_key {
                list.sort_by_key(|e| e.event_time_ms);
                let mut current: Option<WindowAggregate> = None;
                for event in list {
                    match current.as_mut() {
                        // Touching windows merge, as in Flink and Spark: an event exactly
                        // a gap after the last continues the session.
                        Some(session) if event.event_time_ms <= session.last_event_time_ms + gap_ms => {
                            session.add(event)
                        }
                        _ => {
                            if let Some(done) = current.take() {
                                windows.insert(session_key(key, &done, gap_ms), done);
                            }
                            current = Some(of(event));
                        }
                    }
                }
                if let Some(done) = current {
                    windows.insert(session_key(key, &done, gap_ms), done);
                }
            }
        }
        _ => {
            for event in events {
                for (start, end) in spec.fixed_windows(event.event_time_ms) {
                    let window = WindowKey {
                        key: event.key,
                        window_start_ms: start,
                        window_end_ms: end,
                    };
                    windows
                        .entry(window)
                        .and_modify(|w| w.add(event))
                        .or_insert_with(|| of(event));
                }
            }
        }
    }
    windows
}

/// The window of a finished session.
pub fn session_key(key: u64, session: &WindowAggregate, gap_ms: i64) -> WindowKey {
    WindowKey {
        key,
        window_start_ms: session.first_event_time_ms,
        window_end_ms: session.last_event_time_ms + gap_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_window_assignment() {
        let tumbling = WindowSpec::Tumbling { size_ms: 10_000 };
        assert_eq!(
            tumbling.fixed_windows(12_345).collect::<Vec<_>>(),
            vec![(10_000, 20_000)]
        );
        assert_eq!(tumbling.fixed_windows(-1).collect::<Vec<_>>(), vec![(-10_000, 0)]);
        assert_eq!(
            tumbling.fixed_windows(20_000).collect::<Vec<_>>(),
            vec![(20_000, 30_000)]
        );
        let sliding = WindowSpec::Sliding {
            size_ms: 60_000,
            slide_ms: 10_000,
        };
        let windows: Vec<_> = sliding.fixed_windows(65_000).collect();
        assert_eq!(windows.len(), 6);
        assert_eq!(windows.first(), Some(&(10_000, 70_000)));
        assert_eq!(windows.last(), Some(&(60_000, 120_000)));
        assert_eq!(sliding.last_end(65_000), 120_000);
    }

    #[test]
    fn sessions_split_at_the_gap_and_merge_within_it() {
        let e = |id, t| Keyed {
            event_id: id,
            key: 1,
            event_time_ms: t,
            value: 1,
            ..Keyed::default()
        };
        let events = [e(0, 1_000), e(1, 30_999), e(2, 61_000), e(3, 91_000)];
        let windows = windows_of(&WindowSpec::Session { gap_ms: 30_000 }, &events);
        let spans: Vec<(i64, i64, i64)> = windows
            .iter()
            .map(|(k, a)| (k.window_start_ms, k.window_end_ms, a.count))
            .collect();
        // 1_000 and 30_999 are 29_999 apart: one session; 61_000 is 30_001 after 30_999: a new one,
        // and 91_000 is exactly a gap after it: the same one (touching windows merge, as in
        // Flink and Spark).
        assert_eq!(spans, vec![(1_000, 60_999, 2), (61_000, 121_000, 2)]);
    }

    #[test]
    fn bad_windows_are_refused() {
        assert!(WindowSpec::Tumbling { size_ms: 0 }.validate().is_err());
        assert!(
            WindowSpec::Sliding {
                size_ms: 60_000,
                slide_ms: 7_000
            }
            .validate()
            .is_err()
        );
        assert!(WindowSpec::Session { gap_ms: -1 }.validate().is_err());
    }

    /// Brute force for fixed windows: every candidate start, every event.
    fn brute_fixed(size: i64, slide: i64, events: &[Keyed]) -> BTreeMap<WindowKey, WindowAggregate> {
        let mut out = BTreeMap::new();
        let (lo, hi) = (
            events.iter().map(|e| e.event_time_ms).min(),
            events.iter().map(|e| e.event_time_ms).max(),
        );
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return out;
        };
        let mut start = (lo - size).div_euclid(slide) * slide;
        while start <= hi {
            for key in events
                .iter()
                .map(|e| e.key)
                .collect::<std::collections::BTreeSet<_>>()
            {
                let inside: Vec<&Keyed> = events
                    .iter()
                    .filter(|e| e.key == key && start <= e.event_time_ms && e.event_time_ms < start + size)
                    .collect();
                if let Some((first, rest)) = inside.split_first() {
                    let mut agg = WindowAggregate::of(first);
                    rest.iter().for_each(|e| agg.add(e));
                    out.insert(
                        WindowKey {
                            key,
                            window_start_ms: start,
                            window_end_ms: start + size,
                        },
                        agg,
                    );
                }
            }
            start += slide;
        }
        out
    }

    /// Brute force for sessions: connected components of "closer than the gap".
    fn brute_sessions(gap: i64, events: &[Keyed]) -> BTreeMap<WindowKey, WindowAggregate> {
        let n = events.len();
        let mut component: Vec<usize> = (0..n).collect();
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..n {
                for j in 0..n {
                    let close = events[i].key == events[j].key
                        && (events[i].event_time_ms - events[j].event_time_ms).abs() <= gap;
                    if close && component[j] < component[i] {
                        component[i] = component[j];
                        changed = true;
                    }
                }
            }
        }
        let mut by_component: BTreeMap<usize, WindowAggregate> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            by_component
                .entry(component[i])
                .and_modify(|a| a.add(e))
                .or_insert_with(|| WindowAggregate::of(e));
        }
        by_component
            .into_iter()
            .map(|(c, agg)| (session_key(events[c].key, &agg, gap), agg))
            .collect()
    }

    fn small_events() -> impl Strategy<Value = Vec<Keyed>> {
        prop::collection::vec((0u64..3, -50_000i64..50_000, -100i64..100), 0..40).prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (key, t, value))| Keyed {
                    event_id: i as u64,
                    key,
                    event_time_ms: t,
                    value,
                    ..Keyed::default()
                })
                .collect()
        })
    }

    /// The fields the merging test counts the distinct values of.
    const COUNTED: [usize; 2] = [0, 2];

    /// What a window of `events` must hold, computed plainly: the first and
    /// last events by (time, id), each field's sum, min and max, and the
    /// distinct values of the [`COUNTED`] fields.
    fn plainly(events: &[Keyed]) -> WindowAggregate {
        let first = events
            .iter()
            .min_by_key(|e| (e.event_time_ms, e.event_id))
            .expect("events");
        let last = events
            .iter()
            .max_by_key(|e| (e.event_time_ms, e.event_id))
            .expect("events");
        let field = |f: usize| {
            let values: Vec<i64> = events.iter().map(|e| e.more[f]).collect();
            FieldAggregate {
                sum: values.iter().sum(),
                min: *values.iter().min().expect("values"),
                max: *values.iter().max().expect("values"),
                first: first.more[f],
                last: last.more[f],
            }
        };
        WindowAggregate {
            count: events.len() as i64,
            sum: events.iter().map(|e| e.value).sum(),
            min: events.iter().map(|e| e.value).min().expect("values"),
            max: events.iter().map(|e| e.value).max().expect("values"),
            first_event_time_ms: first.event_time_ms,
            last_event_time_ms: last.event_time_ms,
            first_event_id: first.event_id,
            first_value: first.value,
            last_event_id: last.event_id,
            last_value: last.value,
            more: [field(0), field(1), field(2)],
            distinct: COUNTED
                .iter()
                .map(|&field| DistinctValues {
                    field,
                    values: events.iter().map(|e| distinct::field_value(e, field)).collect(),
                })
                .collect(),
        }
    }

    proptest! {
        /// Merging in any order, as sessions and state stores merge, gives
        /// the window's aggregate of every field (ties in time broken by id)
        /// and the distinct values of those counted.
        #[test]
        fn merging_in_any_order_gives_every_fields_aggregate(
            raw in prop::collection::vec((0i64..5, -9i64..9, -9i64..9), 1..30),
            split in 0usize..30,
        ) {
            let events: Vec<Keyed> = raw.iter().enumerate().map(|(i, &(t, a, b))| Keyed {
                event_id: i as u64,
                event_time_ms: t,
                value: a,
                more: [b, a * b, -b],
                ..Keyed::default()
            }).collect();
            let fold = |events: &mut dyn Iterator<Item = &Keyed>| {
                let counted = FieldSet::of(COUNTED);
                let first = WindowAggregate::counting(events.next().expect("one"), counted);
                events.fold(first, |mut w, e| { w.add(e); w })
            };
            let want = plainly(&events);
            prop_assert_eq!(fold(&mut events.iter()), want.clone());
            prop_assert_eq!(fold(&mut events.iter().rev()), want.clone());
            let split = 1 + split % events.len();
            if split < events.len() {
                let mut later = fold(&mut events[split..].iter());
                later.merge(&fold(&mut events[..split].iter()));
                prop_assert_eq!(later, want);
            }
        }

        #[test]
        fn tumbling_matches_brute_force(events in small_events(), size in 1i64..20_000) {
            let spec = WindowSpec::Tumbling { size_ms: size };
            prop_assert_eq!(windows_of(&spec, &events), brute_fixed(size, size, &events));
        }

        #[test]
        fn sliding_matches_brute_force(events in small_events(), slide in 1i64..5_000, factor in 1i64..5) {
            let spec = WindowSpec::Sliding { size_ms: slide * factor, slide_ms: slide };
            prop_assert_eq!(windows_of(&spec, &events), brute_fixed(slide * factor, slide, &events));
        }

        #[test]
        fn sessions_match_brute_force(events in small_events(), gap in 1i64..20_000) {
            let spec = WindowSpec::Session { gap_ms: gap };
            prop_assert_eq!(windows_of(&spec, &events), brute_sessions(gap, &events));
        }
    }
}
