//! The watermark trade-off: when a suite sweeps the watermark delay
//! (`matrix.watermark_delay_ms`), what each delay keeps and what it costs.
//! A shorter delay closes windows sooner, so results come earlier, but
//! events that arrive later than it are dropped as late. Per job and
//! setting, each delay's completeness (the share of the events the job
//! keeps that the engine counted, exact from the oracle's late-event
//! accounting) against the p99 event-time latency of its results, which
//! contains the delay. Only runs without a fault that equal the oracle count.

use std::collections::BTreeMap;

use streambench_workloads::suite::FaultPlan;

use crate::figures::Figure;
use crate::results::{Results, ScenarioResult, Spread};
use crate::svg::{Axis, LineChart, Mark, Scale, Series};
use crate::table::Table;
use crate::verdict::cite;

/// The completeness a team can usually live with, named in each sentence.
pub const ENOUGH_KEPT: f64 = 0.999;

/// One watermark delay of one setting, as measured (medians over
/// repetitions).
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// The watermark delay, ms.
    pub delay_ms: i64,
    /// The share of kept events counted rather than dropped as late.
    pub completeness: f64,
    /// Events dropped as late (the median over repetitions).
    pub dropped: f64,
    /// p99 event-time latency of the results, ms.
    pub p99_ms: f64,
    /// The scenarios measured.
    pub scenarios: Vec<usize>,
}

/// One setting's sweep over watermark delays, shortest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The job.
    pub job: String,
    /// The engine setting and rate, without the delay:
    /// `continuous upsert at 2,000 events/s`.
    pub setting: String,
    /// Each delay measured.
    pub delays: Vec<Kept>,
}

impl Sweep {
    /// The trade-off in words, every figure cited: "`tumbling` on
    /// continuous upsert at 2,000 events/s: watermark 0.5 s keeps 97.12 % of
    /// events at p99 1.1 s (#1); 5 s keeps 100 % at 5.4 s (#2); the shortest
    /// keeping 99.9 % is 5 s".
    pub fn sentence(&self) -> String {
        let each: Vec<String> = self
            .delays
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let (delay, kept, latency) = (
                    duration(k.delay_ms as f64),
                    percent(k.completeness),
                    duration(k.p99_ms),
                );
                let cited = cite(&k.scenarios);
                if i == 0 {
                    format!("watermark {delay} keeps {kept} of events at p99 {latency} ({cited})")
                } else {
                    format!("{delay} keeps {kept} at {latency} ({cited})")
                }
            })
            .collect();
        let enough = match self.delays.iter().find(|k| k.completeness >= ENOUGH_KEPT) {
            Some(k) => format!(
                "the shortest keeping {} is {}",
                percent(ENOUGH_KEPT),
                duration(k.delay_ms as f64)
            ),
            None => format!("none keeps {}", percent(ENOUGH_KEPT)),
        };
        format!(
            "`{}` on {}: {}; {enough}.",
            self.job,
            self.setting,
            each.join("; ")
        )
    }
}

/// A job and setting's runs, by watermark delay.
type ByDelay<'r> = ((String, String), BTreeMap<i64, Vec<&'r ScenarioResult>>);

/// Every sweep of the run, by job in first-run order, then setting.
pub fn sweeps(results: &Results) -> Vec<Sweep> {
    let mut groups: Vec<ByDelay<'_>> = Vec::new();
    for r in results.scenarios.iter().filter(|r| judged(results, r)) {
        let Some(delay) = r.scenario.watermark_delay_ms else {
            continue;
        };
        let key = (r.scenario.job.name.clone(), setting_without_delay(r));
        let at = match groups.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                groups.push((key, BTreeMap::new()));
                groups.len() - 1
            }
        };
        groups[at].1.entry(delay).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((job, setting), by_delay)| Sweep {
            job,
            setting,
            delays: by_delay
                .into_iter()
                .filter_map(|(d, runs)| kept(d, &runs))
                .collect(),
        })
        .filter(|sweep| !sweep.delays.is_empty())
        .collect()
}

/// A run the trade-off can rest on, as the verdict's: no fault, no error,
/// oracle-exact, keeping up with the rate offered.
fn judged(results: &Results, r: &ScenarioResult) -> bool {
    r.scenario.fault == FaultPlan::None && r.error.is_none() && r.passed && results.kept_up(r.scenario.number)
}

/// The setting and rate of `r` without its watermark delay.
fn setting_without_delay(r: &ScenarioResult) -> String {
    let setting = crate::figures::setting(r);
    let words: Vec<&str> = setting
        .split(' ')
        .filter(|w| !w.starts_with("watermark-"))
        .collect();
    match r.scenario.constant_rate() {
        Some(rate) => format!("{} at {} events/s", words.join(" "), crate::verdict::rate(rate)),
        None => words.join(" "),
    }
}

/// The medians of one delay's runs; none when no run measured a latency.
fn kept(delay_ms: i64, runs: &[&ScenarioResult]) -> Option<Kept> {
    let median = |f: &dyn Fn(&ScenarioResult) -> Option<f64>| {
        Spread::of(runs.iter().filter_map(|r| f(r))).map(|s| s.median)
    };
    Some(Kept {
        delay_ms,
        completeness: median(&|r| Some(r.check.completeness()))?,
        dropped: median(&|r| Some(r.check.late_dropped as f64))?,
        p99_ms: median(&|r| r.event_time_latency.at(99.0))?,
        scenarios: runs.iter().map(|r| r.scenario.number).collect(),
    })
}

/// The trade-off as Markdown: a sentence per setting and one table; empty
/// when the run swept no watermark.
pub fn markdown(results: &Results) -> String {
    let sweeps = sweeps(results);
    if sweeps.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for sweep in &sweeps {
        out.push_str(&sweep.sentence());
        out.push_str("\n\n");
    }
    out.push_str(&table(&sweeps).render());
    out
}

/// What `run` prints after the verdict: one line per setting.
pub fn sentences(results: &Results) -> String {
    sweeps(results)
        .iter()
        .map(|s| format!("watermark: {}\n", s.sentence()))
        .collect()
}

/// Every delay of every sweep, a row each.
pub fn table(sweeps: &[Sweep]) -> Table {
    let mut table = Table::new(&[
        "job",
        "setting",
        ">watermark ms",
        ">events kept %",
        ">dropped as late",
        ">event-time p99 ms",
        "scenarios",
    ]);
    for sweep in sweeps {
        for k in &sweep.delays {
            table.row(vec![
                sweep.job.clone(),
                sweep.setting.clone(),
                k.delay_ms.to_string(),
                percent(k.completeness).trim_end_matches(" %").to_string(),
                format!("{:.0}", k.dropped),
                format!("{:.0}", k.p99_ms),
                cite(&k.scenarios),
            ]);
        }
    }
    table
}

/// The chart of `job`'s sweeps: completeness (%) against p99 event-time
/// latency, a line per setting through its delays. Completeness is spread by
/// its nines (98 % and 99.9 % far apart), where the choice lies.
pub fn figure(results: &Results, job: &str) -> Option<Figure> {
    let series: Vec<Series> = sweeps(results)
        .into_iter()
        .filter(|s| s.job == job)
        .enumerate()
        .map(|(colour, sweep)| Series {
            name: sweep.setting.clone(),
            points: sweep
                .delays
                .iter()
                .map(|k| (k.p99_ms, k.completeness * 100.0))
                .collect(),
            mark: Mark::LineAndPoints,
            colour,
        })
        .collect();
    if series.is_empty() {
        return None;
    }
    Some(Figure::Line(LineChart {
        title: format!("Watermark trade-off: {job}, events kept against p99 event-time latency"),
        x: Axis::new(
            "p99 event-time latency (ms), one point per watermark delay",
            Scale::Linear,
        ),
        y: Axis::new("events kept (%), spread by their nines", Scale::Share),
        series,
        markers: Vec::new(),
    }))
}

/// A share as a percentage that never rounds up to 100: `99.87 %`.
fn percent(share: f64) -> String {
    let hundredths = (share * 10_000.0).floor() / 100.0;
    if hundredths >= 100.0 {
        "100 %".to_string()
    } else {
        format!("{hundredths:.2} %")
    }
}

/// Milliseconds as people say them: `450 ms`, `2.3 s`.
fn duration(ms: f64) -> String {
    if ms >= 1_000.0 {
        format!("{:.1} s", ms / 1_000.0).replace(".0 s", " s")
    } else {
        format!("{ms:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_never_round_up_to_whole() {
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(0.99999), "99.99 %");
        assert_eq!(percent(0.5), "50.00 %");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(450.4), "450 ms");
        assert_eq!(duration(2_000.0), "2 s");
        assert_eq!(duration(2_340.0), "2.3 s");
    }
}
