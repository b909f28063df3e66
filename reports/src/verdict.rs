//! The verdict: for each job and each latency target, which engine and
//! setting met the target at the highest rate measured, what it cost, and by
//! what margin; which setting meets it more cheaply; and, where nothing met
//! it, what came closest. Windowed jobs are judged on the delay of their
//! results beyond the watermark (`engine_delay`): the watermark delay is the
//! job's choice, and every engine must wait for it, so only what follows it
//! is the engine's. Per-event jobs (`alerts`, `fraud`) owe no watermark:
//! they are judged on each row's latency after its event arrived, its
//! commit time minus the time the generator's schedule put the event on the
//! broker (an out-of-order event happened earlier than it arrived, which
//! no engine can undo; event-time latency is reported beside it). Every claim names the scenarios it rests on.

use std::collections::BTreeMap;

use streambench_workloads::engine::EngineName;
use streambench_workloads::suite::FaultPlan;

use crate::results::{Results, ScenarioResult, Spread};
use crate::table::Table;

/// The p99 targets the verdict answers for, ms.
pub const TARGETS_MS: [f64; 4] = [10.0, 100.0, 1_000.0, 10_000.0];

/// What the verdict judges a windowed job's latency on, as column headers say it.
pub const JUDGED_LATENCY: &str = "delay beyond the watermark";

/// What the verdict judges a per-event job's latency on.
pub const JUDGED_PER_EVENT: &str = "latency after arrival";

/// What the verdict judges `job`'s latency on, as headers say it.
pub fn judged_latency(results: &Results, job: &str) -> &'static str {
    let per_event = results
        .scenarios
        .iter()
        .any(|r| r.scenario.job.name == job && r.scenario.job.window.is_per_event());
    if per_event {
        JUDGED_PER_EVENT
    } else {
        JUDGED_LATENCY
    }
}

/// One setting at one rate, as measured (the median over its repetitions).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The engine.
    pub engine: EngineName,
    /// The setting without the job and rate: `microbatch upsert trigger-0.5s`.
    pub setting: String,
    /// The offered rate, events per second.
    pub rate_per_s: f64,
    /// p99 of the judged latency, ms.
    pub p99_ms: f64,
    /// p99 event-time latency, ms (the watermark delay included).
    pub event_time_p99_ms: Option<f64>,
    /// CPU cores the engine used per 100,000 events/s.
    pub cores_per_100k: Option<f64>,
    /// The scenarios measured.
    pub scenarios: Vec<usize>,
}

impl Point {
    /// The scenarios as a citation: `#3` or `#3, #7`.
    pub fn cited(&self) -> String {
        cite(&self.scenarios)
    }
}

/// Scenario numbers as a citation: `#3` or `#3, #7`.
pub(crate) fn cite(scenarios: &[usize]) -> String {
    let numbers: Vec<String> = scenarios.iter().map(|n| format!("#{n}")).collect();
    numbers.join(", ")
}

/// Of two settings that both meet a target at the same rate, the cheaper.
#[derive(Debug, Clone, PartialEq)]
pub struct Cheaper {
    /// The cheaper setting.
    pub cheaper: Point,
    /// The next cheapest at the same rate.
    pub than: Point,
}

/// A CPU ratio within this of 1 is "about the same": machines here are
/// shared and noisy (`compare` flags nothing within 5 % either).
const SAME_CPU_WITHIN: f64 = 0.05;

impl Cheaper {
    /// What the cheaper one uses, in words: `0.62x the CPU of B`, or
    /// `about the CPU of B (0.98x)` within the noise.
    pub fn cpu_phrase(&self) -> String {
        let ratio = self.cpu_ratio();
        if (1.0 - ratio).abs() < SAME_CPU_WITHIN {
            format!("about the CPU of {} ({ratio:.2}x)", self.than.setting)
        } else {
            format!("{ratio:.2}x the CPU of {}", self.than.setting)
        }
    }

    /// The comparison in words: "a uses 0.80x the CPU of b (2,000 events/s; #2; #1)".
    pub fn words(&self) -> String {
        format!(
            "{} uses {} ({} events/s; {}; {})",
            self.cheaper.setting,
            self.cpu_phrase(),
            rate(self.cheaper.rate_per_s),
            self.cheaper.cited(),
            self.than.cited()
        )
    }

    /// The cheaper one's CPU over the other's.
    pub fn cpu_ratio(&self) -> f64 {
        match (self.cheaper.cores_per_100k, self.than.cores_per_100k) {
            (Some(a), Some(b)) if b > 0.0 => a / b,
            _ => f64::NAN,
        }
    }
}

/// The answer for one latency target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetVerdict {
    /// The p99 target, ms.
    pub target_ms: f64,
    /// The setting that met it at the highest rate (the cheaper one of equals).
    pub best: Option<Point>,
    /// Where two or more settings met it at one rate: the cheapest there and
    /// the next, at the highest such rate.
    pub cheaper: Option<Cheaper>,
    /// The engines with a setting that met it.
    pub engines: Vec<EngineName>,
    /// Per engine that met it, its setting that met it at the highest rate
    /// (the cheaper one of equals), in the order of `engines`.
    pub engine_bests: Vec<Point>,
    /// Where nothing met it: the point with the lowest p99.
    pub closest: Option<Point>,
}

impl TargetVerdict {
    /// p99 over the target of the best point: how much room it left.
    pub fn margin(&self) -> Option<f64> {
        self.best.as_ref().map(|p| p.p99_ms / self.target_ms)
    }
}

/// The verdict of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobVerdict {
    /// The job.
    pub job: String,
    /// Its watermark delay, ms (left out of the judged latency); 0 for a
    /// per-event job.
    pub watermark_delay_ms: i64,
    /// What its latency is judged on: [`JUDGED_LATENCY`] or [`JUDGED_PER_EVENT`].
    pub judged: &'static str,
    /// The highest rate measured at all.
    pub highest_rate_per_s: f64,
    /// The engines with a run that could be judged.
    pub engines: Vec<EngineName>,
    /// One answer per target, tightest first.
    pub targets: Vec<TargetVerdict>,
}

/// The verdict of every job of the run that has a measured point.
pub fn verdicts(results: &Results) -> Vec<JobVerdict> {
    crate::markdown::jobs(results)
        .into_iter()
        .filter_map(|job| job_verdict(results, &job))
        .collect()
}

/// The verdict of `job`, if any of its runs can be judged.
fn job_verdict(results: &Results, job: &str) -> Option<JobVerdict> {
    let points = points(results, job);
    let watermark_delay_ms = results
        .scenarios
        .iter()
        .find(|r| r.scenario.job.name == job && at_own_watermark(results, r))?
        .scenario
        .job
        .result_wait_ms();
    let highest_rate_per_s = points
        .iter()
        .map(|p| p.rate_per_s)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))))?;
    let targets = TARGETS_MS.iter().map(|&t| target_verdict(&points, t)).collect();
    let mut engines: Vec<EngineName> = points.iter().map(|p| p.engine).collect();
    engines.sort();
    engines.dedup();
    Some(JobVerdict {
        job: job.to_string(),
        watermark_delay_ms,
        judged: judged_latency(results, job),
        highest_rate_per_s,
        engines,
        targets,
    })
}

/// Whether a run can be judged: exact, finished, without a fault, kept up
/// (a search trial that fell behind has latency that only says how long it
/// ran), at a constant rate, with results measured.
fn judged(results: &Results, r: &ScenarioResult) -> bool {
    r.passed
        && r.error.is_none()
        && r.scenario.fault == FaultPlan::None
        && results.kept_up(r.scenario.number)
        && r.scenario.constant_rate().is_some()
        && r.engine_delay.at(99.0).is_some()
}

/// Why no run of `results` could be judged, counting the runs each reason
/// leaves out; none when some run was judged (or none ran).
pub fn unjudged(results: &Results) -> Option<String> {
    let runs = &results.scenarios;
    if runs.is_empty() || runs.iter().any(|r| judged(results, r)) {
        return None;
    }
    let count = |leaves_out: &dyn Fn(&ScenarioResult) -> bool| runs.iter().filter(|r| leaves_out(r)).count();
    let reasons = [
        (
            count(&|r| !r.passed || r.error.is_some()),
            "did not equal the oracle or failed",
        ),
        (count(&|r| r.scenario.fault != FaultPlan::None), "had a fault"),
        (count(&|r| !results.kept_up(r.scenario.number)), "fell behind"),
        (
            count(&|r| r.scenario.constant_rate().is_none()),
            "ran at a changing rate",
        ),
        (
            count(&|r| r.engine_delay.at(99.0).is_none()),
            "measured no latency after the warm-up (their events ended within it: \
             send more events, or at a lower rate)",
        ),
    ];
    let said: Vec<String> = reasons
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, why)| format!("{n} {why}"))
        .collect();
    Some(format!(
        "No run of this suite could be judged: of its {} runs, {}.",
        runs.len(),
        said.join("; ")
    ))
}

/// Whether `r` runs its job at the job's own watermark delay: it is not a
/// step of a watermark sweep, or its suite ran the job only in sweeps. A
/// sweep's steps trade completeness for latency and have their own verdict
/// (the watermark trade-off); the latency verdict compares settings at one
/// delay, so that none wins by dropping more events.
fn at_own_watermark(results: &Results, r: &ScenarioResult) -> bool {
    let job = &r.scenario.job.name;
    r.scenario.watermark_delay_ms.is_none()
        || results
            .scenarios
            .iter()
            .all(|other| &other.scenario.job.name != job || other.scenario.watermark_delay_ms.is_some())
}

/// Every setting of `job` at every rate it was judged at: repetitions of one
/// setting and rate become one point, their medians.
pub fn points(results: &Results, job: &str) -> Vec<Point> {
    let mut runs: BTreeMap<(String, u64), Vec<&ScenarioResult>> = BTreeMap::new();
    for r in results
        .scenarios
        .iter()
        .filter(|r| r.scenario.job.name == job && judged(results, r) && at_own_watermark(results, r))
    {
        runs.entry((crate::figures::setting(r), r.offered_rate_key()))
            .or_default()
            .push(r);
    }
    runs.into_iter()
        .filter_map(|((setting, _), runs)| {
            let median = |f: &dyn Fn(&ScenarioResult) -> Option<f64>| {
                Spread::of(runs.iter().filter_map(|r| f(r))).map(|s| s.median)
            };
            Some(Point {
                engine: runs[0].scenario.engine,
                setting,
                rate_per_s: runs[0].scenario.constant_rate()?,
                p99_ms: median(&|r| r.engine_delay.at(99.0))?,
                event_time_p99_ms: median(&|r| r.event_time_latency.at(99.0)),
                cores_per_100k: median(&|r| {
                    let cpu = r.resources.engine_cpu_s_per_million_events;
                    // CPU seconds per million events, over ten: cores at 100,000 events/s.
                    (cpu > 0.0).then_some(cpu / 10.0)
                }),
                scenarios: runs.iter().map(|r| r.scenario.number).collect(),
            })
        })
        .collect()
}

/// Lower cost first; a point without a CPU figure last.
fn by_cost(a: &Point, b: &Point) -> std::cmp::Ordering {
    let cost = |p: &Point| p.cores_per_100k.unwrap_or(f64::INFINITY);
    cost(a).total_cmp(&cost(b))
}

/// The answer for `target_ms` from `points`.
fn target_verdict(points: &[Point], target_ms: f64) -> TargetVerdict {
    let meeting: Vec<&Point> = points.iter().filter(|p| p.p99_ms <= target_ms).collect();
    let fastest = |of: &mut dyn Iterator<Item = &&Point>| {
        of.max_by(|a, b| a.rate_per_s.total_cmp(&b.rate_per_s).then(by_cost(b, a)))
            .map(|p| (*p).clone())
    };
    let best = fastest(&mut meeting.iter());
    let mut engines: Vec<EngineName> = meeting.iter().map(|p| p.engine).collect();
    engines.sort();
    engines.dedup();
    let engine_bests = engines
        .iter()
        .filter_map(|e| fastest(&mut meeting.iter().filter(|p| p.engine == *e)))
        .collect();
    let closest = if meeting.is_empty() {
        points
            .iter()
            .min_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms))
            .cloned()
    } else {
        None
    };
    TargetVerdict {
        target_ms,
        best,
        cheaper: cheaper_at_a_shared_rate(&meeting),
        engines,
        engine_bests,
        closest,
    }
}

/// At the highest rate where two or more settings met the target (costs
/// compare fairly only at one rate): the cheapest of them and the next.
fn cheaper_at_a_shared_rate(meeting: &[&Point]) -> Option<Cheaper> {
    let mut by_rate: BTreeMap<u64, Vec<&Point>> = BTreeMap::new();
    for p in meeting {
        by_rate.entry(p.rate_per_s.round() as u64).or_default().push(p);
    }
    let (_, mut shared) = by_rate.into_iter().rev().find(|(_, at)| at.len() >= 2)?;
    shared.sort_by(|a, b| by_cost(a, b));
    shared[0].cores_per_100k?;
    shared[1].cores_per_100k?;
    Some(Cheaper {
        cheaper: shared[0].clone(),
        than: shared[1].clone(),
    })
}

/// A latency target in words: `10 ms`, `1 s`.
pub fn target_name(target_ms: f64) -> String {
    if target_ms >= 1000.0 {
        format!("{} s", target_ms / 1000.0)
    } else {
        format!("{target_ms:.0} ms")
    }
}

/// A rate with thousands separated: `336,359`.
pub(crate) fn rate(per_s: f64) -> String {
    let digits = format!("{:.0}", per_s);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Engines in words: `continuous`, `continuous and microbatch`.
fn engine_list(engines: &[EngineName]) -> String {
    let names: Vec<&str> = engines.iter().map(EngineName::as_str).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl JobVerdict {
    /// The verdict in one sentence: the tightest target anything met and
    /// who met it, the next tightest that more engines meet and the cheaper
    /// setting there, and the loosest target nothing met with what came
    /// closest. Every number cites its scenarios.
    pub fn sentence(&self) -> String {
        let mut clauses = Vec::new();
        let met: Vec<&TargetVerdict> = self.targets.iter().filter(|t| t.best.is_some()).collect();
        if let Some(tightest) = met.first() {
            clauses.push(met_clause(tightest, self.engines.len()));
            if let Some(wider) = met.iter().find(|t| t.engines.len() > tightest.engines.len()) {
                clauses.push(also_clause(wider, tightest));
            }
        }
        let unmet = self
            .targets
            .iter()
            .rev()
            .find(|t| t.best.is_none() && met.first().is_none_or(|m| t.target_ms < m.target_ms));
        if let Some(unmet) = unmet
            && let Some(closest) = &unmet.closest
        {
            clauses.push(format!(
                "nothing meets {} (closest: {}, p99 {:.0} ms at {} events/s, {})",
                target_name(unmet.target_ms),
                closest.setting,
                closest.p99_ms,
                rate(closest.rate_per_s),
                closest.cited()
            ));
        }
        let judged = if self.judged == JUDGED_PER_EVENT {
            format!("p99 of each row's {JUDGED_PER_EVENT}, its commit minus its event's arrival")
        } else {
            format!("p99 of the {JUDGED_LATENCY} of {} ms", self.watermark_delay_ms)
        };
        format!(
            "`{}` ({judged}; rates up to {} events/s measured): {}.",
            self.job,
            rate(self.highest_rate_per_s),
            clauses.join("; ")
        )
    }

    /// The verdict as a table: per target, who met it at the highest rate,
    /// at what cost and margin, and who met it more cheaply.
    pub fn table(&self) -> Table {
        let mut table = Table::new(&[
            "p99 target",
            "met at the highest rate by",
            ">rate/s",
            &format!(">p99 {} ms", self.judged),
            ">p99 event time ms",
            ">p99 / target",
            ">cores per 100k ev/s",
            "cheaper at one rate",
            "scenarios",
        ]);
        for t in &self.targets {
            let cells = match (&t.best, &t.closest) {
                (Some(best), _) => vec![
                    target_name(t.target_ms),
                    best.setting.clone(),
                    rate(best.rate_per_s),
                    format!("{:.0}", best.p99_ms),
                    best.event_time_p99_ms.map_or("-".into(), |v| format!("{v:.0}")),
                    t.margin().map_or("-".into(), |m| format!("{m:.2}")),
                    best.cores_per_100k.map_or("-".into(), |c| format!("{c:.2}")),
                    t.cheaper.as_ref().map_or("-".into(), Cheaper::words),
                    best.cited(),
                ],
                (None, Some(closest)) => vec![
                    target_name(t.target_ms),
                    format!("none (closest: {})", closest.setting),
                    rate(closest.rate_per_s),
                    format!("{:.0}", closest.p99_ms),
                    closest
                        .event_time_p99_ms
                        .map_or("-".into(), |v| format!("{v:.0}")),
                    format!("{:.2}", closest.p99_ms / t.target_ms),
                    closest.cores_per_100k.map_or("-".into(), |c| format!("{c:.2}")),
                    "-".into(),
                    closest.cited(),
                ],
                (None, None) => vec![target_name(t.target_ms), "none".into()],
            };
            table.row(cells);
        }
        table
    }
}

/// "only continuous meets 100 ms (continuous upsert, p99 83 ms at 2,000
/// events/s, #1)" ("only" when other engines were judged and missed it),
/// with the cheaper setting at one rate when two met it.
fn met_clause(t: &TargetVerdict, engines_judged: usize) -> String {
    let Some(best) = &t.best else {
        return String::new();
    };
    let only = if t.engines.len() < engines_judged {
        "only "
    } else {
        ""
    };
    let who = match t.engines.len() {
        1 => format!("{only}{} meets", engine_list(&t.engines)),
        _ => format!("{only}{} meet", engine_list(&t.engines)),
    };
    format!(
        "{who} {} ({}){}",
        target_name(t.target_ms),
        point_words(best),
        cheaper_clause(t)
    )
}

/// "microbatch also meets 10 s (microbatch upsert, p99 3478 ms at 168,179
/// events/s, #30)": the engines that met a looser target but not the
/// tightest, each at its best, and the cheaper setting there unless the
/// tightest target's clause already named it.
fn also_clause(t: &TargetVerdict, tightest: &TargetVerdict) -> String {
    let newcomers: Vec<&Point> = t
        .engine_bests
        .iter()
        .filter(|p| !tightest.engines.contains(&p.engine))
        .collect();
    let engines: Vec<EngineName> = newcomers.iter().map(|p| p.engine).collect();
    let verb = if engines.len() == 1 {
        "also meets"
    } else {
        "also meet"
    };
    let bests: Vec<String> = newcomers.iter().map(|p| point_words(p)).collect();
    let cheaper = if t.cheaper == tightest.cheaper {
        String::new()
    } else {
        cheaper_clause(t)
    };
    format!(
        "{} {verb} {} ({}){cheaper}",
        engine_list(&engines),
        target_name(t.target_ms),
        bests.join("; "),
    )
}

/// "continuous upsert, p99 83 ms at 2,000 events/s, #1".
fn point_words(p: &Point) -> String {
    format!(
        "{}, p99 {:.0} ms at {} events/s, {}",
        p.setting,
        p.p99_ms,
        rate(p.rate_per_s),
        p.cited()
    )
}

/// ", and at one rate a uses 0.80x the CPU of b (2,000 events/s; #2; #1)",
/// or nothing when no two settings met the target at one rate.
fn cheaper_clause(t: &TargetVerdict) -> String {
    t.cheaper
        .as_ref()
        .map_or(String::new(), |c| format!(", and at one rate {}", c.words()))
}

/// The verdicts in Markdown: each job's sentence, then its table.
pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    for verdict in verdicts(results) {
        out.push_str(&verdict.sentence());
        out.push_str("\n\n");
        out.push_str(&verdict.table().render());
        out.push('\n');
    }
    out
}

/// What `run` prints last: one sentence per job.
pub fn sentences(results: &Results) -> String {
    let said: String = verdicts(results)
        .iter()
        .map(|v| format!("verdict: {}\n", v.sentence()))
        .collect();
    match unjudged(results) {
        Some(why) if said.is_empty() => format!("verdict: {why}\n"),
        _ => said,
    }
}

/// The points no other point beats on both counts (a higher or equal rate
/// at a lower or equal p99, better in one): the choices worth making, by rate.
pub fn pareto_front(points: &[Point]) -> Vec<Point> {
    let beaten = |p: &Point| {
        points.iter().any(|q| {
            q.rate_per_s >= p.rate_per_s
                && q.p99_ms <= p.p99_ms
                && (q.rate_per_s > p.rate_per_s || q.p99_ms < p.p99_ms)
        })
    };
    let mut front: Vec<Point> = points.iter().filter(|p| !beaten(p)).cloned().collect();
    front.sort_by(|a, b| a.rate_per_s.total_cmp(&b.rate_per_s));
    front
}
