//! The oracle: every job's exact expected output, computed from the
//! generator (never from Kafka), and the check of an engine's results
//! against it.
//!
//! The contract:
//! - On-time events, and out-of-order events within the watermark bound, are
//!   always counted in their windows. Malformed records are expected in the
//!   dead-letter table.
//! - Late events lie far beyond watermark delay + allowed lateness + window
//!   size, so a Flink-style engine drops every one to its late side output; a
//!   Spark-style engine may accept some (its watermark lags by a batch and
//!   its first batch has none). So each late event must be either in the
//!   side output or counted in its window, never both and never neither: the
//!   expected windows are those of the on-time events plus the late events
//!   that are not in the side output. A late event both dropped and counted
//!   shows up as a wrong window value.
//! - An out-of-order event whose lag reaches the watermark delay (a long
//!   tail, as a watermark sweep has) may be late or not, depending on what
//!   its partition delivered before it: it joins the late events, judged
//!   the same way. One with a shorter lag never is: its partition's newest
//!   event time, at most its own scheduled time, minus the delay stays
//!   below its time. The suite allows such lags only for tumbling windows
//!   and per-event jobs, where an event is counted or dropped whole.
//!   Completeness is then exact: the share of kept events not dropped.
//! - A result row is compared on the job's aggregates only; of several
//!   revisions of one window the highest counts, and rows repeating a
//!   revision are duplicates.
//! - Per-event jobs (`alerts`, `fraud`) have no windows: the oracle
//!   evaluates their rule over the kept events in generation order, which is
//!   each key's arrival order (a key lives in one partition and the
//!   generator sends in order), so the rows expected, and for `fraud` the
//!   late events, are exact; a row is compared whole, a row repeated is a
//!   duplicate. This evaluation is written out plainly here, apart from the
//!   engines' state ([`crate::per_event::RuleState`]), so that it checks them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::declared_run::RecordPlan;
use crate::generator::{EventClass, Generator};
use crate::invalid::Invalid;
use crate::job::{CampaignTable, JobSpec, ResultAggregate};
use crate::per_event::EventRow;
use crate::window::{AggregateValue, Keyed, WindowAggregate, WindowKey, WindowSpec, windows_counting};

/// A job's expected output for one generated workload.
#[derive(Debug, Clone)]
pub struct Oracle {
    job: JobSpec,
    /// The job's result columns ([`JobSpec::result_aggregates`]).
    result_aggregates: Vec<ResultAggregate>,
    /// Events the job keeps that are on time or within the bound.
    on_time: Vec<Keyed>,
    /// Events the job keeps that are late.
    late: BTreeMap<u64, Keyed>,
    generated: u64,
    malformed: u64,
    filtered: u64,
    /// Per-event jobs: what each kept event should raise.
    per_event: Option<PerEventExpected>,
}

/// What a per-event job's rule gives on the generated events.
#[derive(Debug, Clone, Default)]
struct PerEventExpected {
    /// The rows expected, by event id.
    rows: BTreeMap<u64, EventRow>,
    /// Kept events the rule evaluates and that raise no row.
    quiet: u64,
    /// Kept events too old for their key: the side output.
    late: BTreeSet<u64>,
}

/// One row of an engine's result table, as the check reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// The window and key.
    pub window: WindowKey,
    /// 0 for a window's first result, +1 for each update.
    pub revision: i64,
    /// The window's aggregates, in the job's order
    /// ([`JobSpec::result_aggregates`]), whole numbers in the units the
    /// engines aggregate in; none where a column is NULL.
    pub aggregates: Vec<Option<AggregateValue>>,
}

impl ResultRow {
    /// The row an exact engine writes for `job`'s `window` with `aggregate`.
    pub fn exact(job: &JobSpec, window: WindowKey, aggregate: &WindowAggregate, revision: i64) -> ResultRow {
        ResultRow {
            window,
            revision,
            aggregates: job
                .result_aggregates()
                .iter()
                .map(|c| Some(aggregate.value_of(c.aggregate, c.field)))
                .collect(),
        }
    }
}

/// What an engine left behind, for the check.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every row of a windowed job's result table.
    pub rows: Vec<ResultRow>,
    /// Every row of a per-event job's result table.
    pub event_rows: Vec<EventRow>,
    /// The event ids in the late-events side output.
    pub late_side_output: Vec<u64>,
    /// How many records are in the dead-letter table.
    pub dead_letters: u64,
}

/// The verdict of comparing an engine's output with the oracle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Windows (per-event jobs: rows) the oracle expects.
    pub expected_windows: u64,
    /// Windows (rows) whose final row equals the oracle's.
    pub matched: u64,
    /// Windows present with a wrong final value.
    pub wrong_value: u64,
    /// Windows the oracle expects that have no row.
    pub missing: u64,
    /// Windows with rows that the oracle does not expect.
    pub unexpected: u64,
    /// Rows repeating a (window, revision) already present.
    pub duplicate_rows: u64,
    /// Events generated, malformed ones included.
    pub generated_events: u64,
    /// Events the job's filter drops.
    pub filtered_events: u64,
    /// Kept events whose every window matched.
    pub counted_events: u64,
    /// Late events generated that the job keeps.
    pub late_events: u64,
    /// Late events the engine accepted into their windows.
    pub late_accepted: u64,
    /// Late events in the side output.
    pub late_dropped: u64,
    /// Side-output entries that are not late events (wrongly dropped), or repeated.
    pub side_output_wrong: u64,
    /// Malformed records generated.
    pub malformed_events: u64,
    /// Records in the dead-letter table.
    pub dead_lettered: u64,
    /// Events neither counted, dropped as late, dead-lettered nor filtered.
    pub lost_events: u64,
}

impl CheckReport {
    /// Whether the output is exactly right; `duplicates_allowed` for
    /// at-least-once delivery after a restart.
    pub fn passed(&self, duplicates_allowed: bool) -> bool {
        self.wrong_value == 0
            && self.missing == 0
            && self.unexpected == 0
            && self.lost_events == 0
            && self.side_output_wrong == 0
            && self.dead_lettered == self.malformed_events
            && (duplicates_allowed || self.duplicate_rows == 0)
    }

    /// The share of the events the job keeps that the engine counted
    /// rather than dropped as late (1 when it keeps none): what a
    /// watermark delay trades latency for.
    pub fn completeness(&self) -> f64 {
        let kept = self
            .generated_events
            .saturating_sub(self.malformed_events + self.filtered_events);
        if kept == 0 {
            return 1.0;
        }
        1.0 - self.late_dropped.min(kept) as f64 / kept as f64
    }
}

/// Whether `generated` is out of order by at least `job`'s watermark delay:
/// late or not depending on what its partition delivered before it.
fn beyond_the_watermark(generated: &crate::generator::Generated<'_>, job: &JobSpec) -> bool {
    generated.class == EventClass::OutOfOrder && generated.delay_ms >= job.watermark_delay_ms
}

impl Oracle {
    /// Computes `job`'s expected output for every event of `generator`
    /// (which must make the events `job` reads: [`Generator::for_job`]).
    pub fn compute(job: &JobSpec, generator: &Generator) -> Result<Oracle, Invalid> {
        let campaigns = CampaignTable::new(generator.spec().seed, generator.spec().keys);
        let declared = job.declared.as_deref().map(RecordPlan::new).transpose()?;
        let mut oracle = Oracle {
            job: job.clone(),
            result_aggregates: job.result_aggregates(),
            on_time: Vec::new(),
            late: BTreeMap::new(),
            generated: generator.len(),
            malformed: 0,
            filtered: 0,
            per_event: None,
        };
        for index in 0..generator.len() {
            let generated = generator.generate(index);
            if let EventClass::Malformed(_) = generated.class {
                oracle.malformed += 1;
                continue;
            }
            let kept = match &declared {
                Some(plan) => plan.keyed(generator.values(&generated)),
                None => job.extract(&generated.event, &campaigns),
            };
            match kept {
                None => oracle.filtered += 1,
                Some(kept)
                    if generated.class == EventClass::Late || beyond_the_watermark(&generated, job) =>
                {
                    oracle.late.insert(kept.event_id, kept);
                }
                Some(kept) => oracle.on_time.push(kept),
            }
        }
        if job.window.is_per_event() {
            oracle.per_event = Some(oracle.evaluate_per_event());
        }
        Ok(oracle)
    }

    /// Evaluates the per-event rule over every kept event in generation
    /// order, late-by-the-generator ones included (a per-event rule has no
    /// window to be late for; it judges lateness per key).
    fn evaluate_per_event(&self) -> PerEventExpected {
        let mut kept: Vec<&Keyed> = self.on_time.iter().chain(self.late.values()).collect();
        kept.sort_by_key(|event| event.event_id);
        let mut expected = PerEventExpected::default();
        let WindowSpec::Burst { within_ms, at_least } = self.job.window else {
            expected.rows = kept.iter().map(|e| (e.event_id, EventRow::of(e, 1))).collect();
            return expected;
        };
        let mut arrived: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
        for event in kept {
            let (t, times) = (event.event_time_ms, arrived.entry(event.key).or_default());
            let newest = times.iter().max().copied().unwrap_or(i64::MIN);
            if t < newest.saturating_sub(self.job.watermark_delay_ms) {
                expected.late.insert(event.event_id);
                continue;
            }
            times.push(t);
            let count = times.iter().filter(|&&p| t - within_ms < p && p <= t).count() as i64;
            if count >= at_least {
                expected.rows.insert(event.event_id, EventRow::of(event, count));
            } else {
                expected.quiet += 1;
            }
        }
        expected
    }

    /// The job the oracle is for.
    pub fn job(&self) -> &JobSpec {
        &self.job
    }

    /// How many records the dead-letter table should end up with.
    pub fn expected_dead_letters(&self) -> u64 {
        self.malformed
    }

    /// The ids of the late events the job keeps (per-event jobs: the ones
    /// their rule finds late).
    pub fn late_event_ids(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match &self.per_event {
            Some(expected) => Box::new(expected.late.iter().copied()),
            None => Box::new(self.late.keys().copied()),
        }
    }

    /// The expected windows when the engine accepted the late events in `accepted`.
    pub fn expected(&self, accepted: &BTreeSet<u64>) -> BTreeMap<WindowKey, WindowAggregate> {
        let accepted_late = accepted.iter().filter_map(|id| self.late.get(id));
        let events = self.on_time.iter().chain(accepted_late);
        windows_counting(&self.job.window, self.job.distinct_fields(), events)
    }

    /// The rows a per-event job should write, by event id (empty for a
    /// windowed job).
    pub fn expected_event_rows(&self) -> impl Iterator<Item = &EventRow> + '_ {
        self.per_event.iter().flat_map(|p| p.rows.values())
    }

    /// Compares what an engine left behind with the oracle.
    pub fn check(&self, observed: &Observed) -> CheckReport {
        if let Some(expected) = &self.per_event {
            return self.check_per_event(expected, observed);
        }
        let (mut report, dropped) = self.side_output_report(observed);
        let accepted: BTreeSet<u64> = self
            .late
            .keys()
            .filter(|id| !dropped.contains(id))
            .copied()
            .collect();
        report.late_accepted = accepted.len() as u64;
        let expected = self.expected(&accepted);
        report.expected_windows = expected.len() as u64;

        let mut latest: BTreeMap<WindowKey, &ResultRow> = BTreeMap::new();
        let mut seen_revisions = BTreeSet::new();
        for row in &observed.rows {
            if !seen_revisions.insert((row.window, row.revision)) {
                report.duplicate_rows += 1;
            }
            let entry = latest.entry(row.window).or_insert(row);
            if row.revision > entry.revision {
                *entry = row;
            }
        }
        let mut matched_windows = BTreeSet::new();
        for (window, aggregate) in &expected {
            match latest.get(window) {
                None => report.missing += 1,
                Some(row) if self.row_matches(row, aggregate) => {
                    report.matched += 1;
                    matched_windows.insert(*window);
                }
                Some(_) => report.wrong_value += 1,
            }
        }
        report.unexpected = latest.keys().filter(|w| !expected.contains_key(w)).count() as u64;

        let counted_events = self
            .on_time
            .iter()
            .chain(accepted.iter().filter_map(|id| self.late.get(id)))
            .filter(|event| {
                self.windows_holding(event, &expected)
                    .iter()
                    .all(|w| matched_windows.contains(w))
            })
            .count() as u64;
        report.counted_events = counted_events;
        report.lost_events = self.lost_events(&report);
        report
    }

    /// Events neither counted, dropped as late, filtered nor dead-lettered,
    /// once `report` has the counts of the others.
    fn lost_events(&self, report: &CheckReport) -> u64 {
        let accounted = report.counted_events
            + report.late_dropped
            + self.filtered
            + report.dead_lettered.min(self.malformed);
        self.generated.saturating_sub(accounted)
    }

    /// Whether `id` is a late event the job keeps ([`Oracle::late_event_ids`]).
    fn is_late(&self, id: u64) -> bool {
        match &self.per_event {
            Some(expected) => expected.late.contains(&id),
            None => self.late.contains_key(&id),
        }
    }

    /// The report's counts that do not depend on the job's kind, with the
    /// side output judged: which late events it holds (each once), and how
    /// many entries are wrong or repeated.
    fn side_output_report(&self, observed: &Observed) -> (CheckReport, BTreeSet<u64>) {
        let mut report = CheckReport {
            generated_events: self.generated,
            filtered_events: self.filtered,
            late_events: self.late_event_ids().count() as u64,
            malformed_events: self.malformed,
            dead_lettered: observed.dead_letters,
            ..CheckReport::default()
        };
        let mut dropped = BTreeSet::new();
        for id in &observed.late_side_output {
            if self.is_late(*id) && dropped.insert(*id) {
                report.late_dropped += 1;
            } else {
                report.side_output_wrong += 1;
            }
        }
        (report, dropped)
    }

    fn check_per_event(&self, expected: &PerEventExpected, observed: &Observed) -> CheckReport {
        let (mut report, _) = self.side_output_report(observed);
        report.expected_windows = expected.rows.len() as u64;
        let mut seen: BTreeMap<u64, &EventRow> = BTreeMap::new();
        for row in &observed.event_rows {
            if seen.insert(row.event_id, row).is_some() {
                report.duplicate_rows += 1;
            }
        }
        for (id, want) in &expected.rows {
            match seen.get(id) {
                None => report.missing += 1,
                Some(got) if *got == want => report.matched += 1,
                Some(_) => report.wrong_value += 1,
            }
        }
        report.unexpected = seen.keys().filter(|id| !expected.rows.contains_key(id)).count() as u64;
        // A quiet event is counted right unless a row was written for it.
        let quiet_right = expected.quiet.saturating_sub(report.unexpected);
        report.counted_events = report.matched + quiet_right;
        report.lost_events = self.lost_events(&report);
        report
    }

    fn windows_holding(
        &self,
        event: &Keyed,
        expected: &BTreeMap<WindowKey, WindowAggregate>,
    ) -> Vec<WindowKey> {
        match self.job.window {
            WindowSpec::Session { .. } => {
                // The session of this key that spans the event's time.
                let probe = WindowKey {
                    key: event.key,
                    window_start_ms: event.event_time_ms,
                    window_end_ms: i64::MAX,
                };
                expected
                    .range(..=probe)
                    .next_back()
                    .filter(|(w, _)| w.key == event.key && w.window_end_ms > event.event_time_ms)
                    .map(|(w, _)| vec![*w])
                    .unwrap_or_default()
            }
            _ => self
                .job
                .window
                .fixed_windows(event.event_time_ms)
                .map(|(start, end)| WindowKey {
                    key: event.key,
                    window_start_ms: start,
                    window_end_ms: end,
                })
                .collect(),
        }
    }

    fn row_matches(&self, row: &ResultRow, expected: &WindowAggregate) -> bool {
        let columns = &self.result_aggregates;
        row.aggregates.len() == columns.len()
            && columns.iter().zip(&row.aggregates).all(|(column, got)| {
                match (expected.value_of(column.aggregate, column.field), got) {
                    (AggregateValue::Mean(want), Some(AggregateValue::Mean(m))) => {
                        (m - want).abs() <= 1e-9 * want.abs().max(1.0)
                    }
                    (want, got) => Some(want) == *got,
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{Late, OutOfOrder, WorkloadSpec};
    use crate::job::{CATALOGUE, catalogue_job};

    fn workload() -> WorkloadSpec {
        WorkloadSpec {
            events: Some(30_000),
            keys: 200,
            // Few users, so that fraud's rule fires and finds late events.
            users: 300,
            out_of_order: OutOfOrder {
                fraction: 0.2,
                max_delay_ms: 4_000,
                ..OutOfOrder::default()
            },
            late: Late {
                fraction: 0.01,
                delay_ms: 200_000,
            },
            malformed_fraction: 0.005,
            ..WorkloadSpec::default()
        }
    }

    /// What a perfect Flink-style engine writes: every on-time window once,
    /// every late event in the side output.
    fn perfect(oracle: &Oracle) -> Observed {
        let rows = oracle
            .expected(&BTreeSet::new())
            .iter()
            .map(|(w, a)| ResultRow::exact(&oracle.job, *w, a, 0))
            .collect();
        Observed {
            rows,
            event_rows: oracle.expected_event_rows().copied().collect(),
            late_side_output: oracle.late_event_ids().collect(),
            dead_letters: oracle.expected_dead_letters(),
        }
    }

    #[test]
    fn a_perfect_engine_passes_every_job() {
        for name in CATALOGUE {
            let job = catalogue_job(name).expect("job");
            let generator = Generator::new(workload(), job.input, 1_700_000_000_000).expect("valid");
            let oracle = Oracle::compute(&job, &generator).expect("a catalogue job");
            let report = oracle.check(&perfect(&oracle));
            assert!(report.passed(false), "{name}: {report:#?}");
            assert!(report.expected_windows > 0, "{name}");
            assert!(
                (report.late_events > 0 || name == "alerts") && report.late_dropped == report.late_events,
                "{name}: {report:#?}"
            );
            assert_eq!(report.lost_events, 0);
            assert_eq!(
                report.counted_events + report.late_dropped + report.filtered_events + report.dead_lettered,
                report.generated_events,
                "{name}: every event accounted for"
            );
        }
    }

    #[test]
    fn accepting_late_events_instead_of_dropping_them_also_passes() {
        let job = catalogue_job("tumbling").expect("job");
        let generator = Generator::new(workload(), job.input, 1_700_000_000_000).expect("valid");
        let oracle = Oracle::compute(&job, &generator).expect("a catalogue job");
        let late: Vec<u64> = oracle.late_event_ids().collect();
        let (accepted, dropped) = late.split_at(late.len() / 2);
        let accepted: BTreeSet<u64> = accepted.iter().copied().collect();
        let observed = perfect_accepting(&oracle, &accepted, dropped);
        let report = oracle.check(&observed);
        assert!(report.passed(false), "{report:#?}");
        assert_eq!(report.late_accepted as usize, accepted.len());
        assert_eq!(report.late_dropped as usize, dropped.len());
    }

    #[test]
    fn lags_past_a_short_watermark_may_be_counted_or_dropped_and_set_the_completeness() {
        let mut job = catalogue_job("tumbling").expect("job");
        job.watermark_delay_ms = 1_000;
        let spec = WorkloadSpec {
            out_of_order: OutOfOrder {
                fraction: 0.3,
                max_delay_ms: 20_000,
                shape: crate::generator::DelayShape::Exponential,
                mean_delay_ms: 800,
            },
            late: Late::default(),
            ..workload()
        };
        let generator = Generator::new(spec, job.input, 1_700_000_000_000).expect("valid");
        let oracle = Oracle::compute(&job, &generator).expect("a catalogue job");
        let beyond: Vec<u64> = (0..generator.len())
            .map(|i| generator.generate(i))
            .filter(|g| g.class == EventClass::OutOfOrder && g.delay_ms >= 1_000)
            .map(|g| g.index)
            .collect();
        let late: Vec<u64> = oracle.late_event_ids().collect();
        assert!(
            !beyond.is_empty() && late.len() <= beyond.len(),
            "{} {}",
            late.len(),
            beyond.len()
        );
        // Counting them all passes, at full completeness.
        let counted = perfect_accepting(&oracle, &late.iter().copied().collect(), &[]);
        let report = oracle.check(&counted);
        assert!(report.passed(false), "{report:#?}");
        assert_eq!(report.completeness(), 1.0);
        // Dropping them all passes too, and completeness says how many.
        let dropped = perfect(&oracle);
        let report = oracle.check(&dropped);
        assert!(report.passed(false), "{report:#?}");
        let kept = (report.generated_events - report.malformed_events - report.filtered_events) as f64;
        assert_eq!(report.completeness(), 1.0 - late.len() as f64 / kept);
        assert!(report.completeness() < 0.99, "{}", report.completeness());
        // Dropping an event lagging less than the delay is wrong.
        let short = (0..generator.len())
            .map(|i| generator.generate(i))
            .find(|g| g.class == EventClass::OutOfOrder && g.delay_ms < 1_000)
            .expect("a short lag");
        let mut wrong = perfect(&oracle);
        wrong.late_side_output.push(short.index);
        assert!(!oracle.check(&wrong).passed(false));
    }

    /// A perfect engine that accepted the late events in `accepted` and
    /// dropped those in `dropped`.
    fn perfect_accepting(oracle: &Oracle, accepted: &BTreeSet<u64>, dropped: &[u64]) -> Observed {
        Observed {
            rows: oracle
                .expected(accepted)
                .iter()
                .map(|(w, a)| ResultRow::exact(&oracle.job, *w, a, 0))
                .collect(),
            late_side_output: dropped.to_vec(),
            dead_letters: oracle.expected_dead_letters(),
            ..Observed::default()
        }
    }

    /// A `tumbling` row's count, its first column.
    fn count(row: &ResultRow) -> i64 {
        match row.aggregates[0] {
            Some(AggregateValue::Whole(n)) => n,
            other => panic!("a count, not {other:?}"),
        }
    }

    #[test]
    fn every_kind_of_fault_is_reported() {
        let job = catalogue_job("tumbling").expect("job");
        let generator = Generator::new(workload(), job.input, 1_700_000_000_000).expect("valid");
        let oracle = Oracle::compute(&job, &generator).expect("a catalogue job");
        let mut observed = perfect(&oracle);
        // A window lost, a window off by one, a duplicate row, a made-up window,
        // a late event both dropped and counted, one dead letter missing.
        let lost = observed.rows.remove(0);
        // `tumbling`'s first column is its count.
        observed.rows[0].aggregates[0] = Some(AggregateValue::Whole(count(&observed.rows[0]) + 1));
        observed.rows.push(observed.rows[1].clone());
        let mut invented = observed.rows[2].clone();
        invented.window.key = 999_999;
        observed.rows.push(invented);
        observed.late_side_output.push(observed.late_side_output[0]);
        observed.dead_letters -= 1;

        let report = oracle.check(&observed);
        assert_eq!(report.missing, 1, "{report:#?}");
        assert_eq!(report.wrong_value, 1);
        assert_eq!(report.duplicate_rows, 1);
        assert_eq!(report.unexpected, 1);
        assert_eq!(report.side_output_wrong, 1);
        assert_eq!(report.dead_lettered + 1, report.malformed_events);
        assert!(report.lost_events >= count(&lost) as u64, "{report:#?}");
        assert!(!report.passed(true));
    }

    #[test]
    fn later_revisions_replace_earlier_ones_and_repeats_are_duplicates() {
        let job = catalogue_job("tumbling").expect("job");
        let generator = Generator::new(workload(), job.input, 1_700_000_000_000).expect("valid");
        let oracle = Oracle::compute(&job, &generator).expect("a catalogue job");
        let mut observed = perfect(&oracle);
        let mut early = observed.rows[0].clone();
        early.aggregates[0] = Some(AggregateValue::Whole(1));
        early.revision = 0;
        observed.rows[0].revision = 1;
        observed.rows.push(early);
        let report = oracle.check(&observed);
        assert!(report.passed(false), "{report:#?}");
        observed.rows.push(observed.rows[0].clone());
        let report = oracle.check(&observed);
        assert_eq!(report.duplicate_rows, 1);
        assert!(report.passed(true) && !report.passed(false));
    }

    fn per_event_oracle(name: &str) -> Oracle {
        let job = catalogue_job(name).expect("job");
        let generator = Generator::new(workload(), job.input, 1_700_000_000_000).expect("valid");
        Oracle::compute(&job, &generator).expect("a catalogue job")
    }

    #[test]
    fn the_engines_rule_state_raises_exactly_the_rows_the_oracle_expects() {
        use crate::per_event::{Outcome, RuleState};
        for name in ["alerts", "fraud"] {
            let oracle = per_event_oracle(name);
            let job = oracle.job().clone();
            let generator = Generator::new(workload(), job.input, 1_700_000_000_000).expect("valid");
            let campaigns = CampaignTable::new(workload().seed, workload().keys);
            let mut state = RuleState::new(&job.window, job.watermark_delay_ms);
            let mut observed = Observed {
                dead_letters: oracle.expected_dead_letters(),
                ..Observed::default()
            };
            for index in 0..generator.len() {
                let generated = generator.generate(index);
                if matches!(generated.class, EventClass::Malformed(_)) {
                    continue;
                }
                let Some(kept) = job.extract(&generated.event, &campaigns) else {
                    continue;
                };
                match state.process(&kept) {
                    Outcome::Row(row) => observed.event_rows.push(row),
                    Outcome::Quiet => {}
                    Outcome::Late { .. } => observed.late_side_output.push(kept.event_id),
                }
            }
            let report = oracle.check(&observed);
            assert!(report.passed(false), "{name}: {report:#?}");
            assert_eq!(report.lost_events, 0, "{name}");
            if name == "fraud" {
                assert!(
                    report.expected_windows > 10 && report.late_events > 0,
                    "{report:#?}"
                );
                assert!(
                    report.expected_windows < report.counted_events,
                    "a rule, not every purchase"
                );
            }
        }
    }

    #[test]
    fn per_event_faults_are_reported() {
        let oracle = per_event_oracle("fraud");
        let mut observed = perfect(&oracle);
        // A row lost, a count off by one, a row written twice, a row for a
        // quiet event, a late event left out of the side output.
        observed.event_rows.remove(0);
        observed.event_rows[0].count += 1;
        observed.event_rows.push(observed.event_rows[1]);
        let mut invented = observed.event_rows[2];
        invented.event_id = u64::MAX;
        observed.event_rows.push(invented);
        observed.late_side_output.pop();
        let report = oracle.check(&observed);
        assert_eq!(
            (
                report.missing,
                report.wrong_value,
                report.duplicate_rows,
                report.unexpected
            ),
            (1, 1, 1, 1),
            "{report:#?}"
        );
        assert_eq!(report.late_dropped + 1, report.late_events);
        assert!(report.lost_events >= 3, "{report:#?}");
        assert!(!report.passed(true));
    }
}
