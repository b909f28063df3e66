//! Which charts a run gets, drawn from its figures: latency percentiles per
//! job, throughput against offered rate with the sustained point, lag and
//! latency over time with kills and restarts marked, checkpoint overhead
//! per interval, and duplicates and losses per delivery mode.

use streambench_workloads::engine::EngineName;
use streambench_workloads::suite::FaultPlan;

use crate::results::{PERCENTILES, Results, ScenarioResult, Spread};
use crate::svg::{Axis, BarChart, LineChart, Mark, Marker, Scale, Series};

/// A chart to draw.
#[derive(Debug, Clone)]
pub enum Figure {
    /// Lines and points.
    Line(LineChart),
    /// Grouped bars.
    Bar(BarChart),
}

impl Figure {
    /// The chart's title.
    pub fn title(&self) -> &str {
        match self {
            Figure::Line(c) => &c.title,
            Figure::Bar(c) => &c.title,
        }
    }

    /// The chart as an SVG document.
    pub fn draw(&self) -> Result<String, crate::svg::ChartError> {
        match self {
            Figure::Line(c) => crate::svg::line_chart(c),
            Figure::Bar(c) => crate::svg::bar_chart(c),
        }
    }
}

/// The charts of one job, in the order shown.
pub fn job_figures(results: &Results, job: &str) -> Vec<Figure> {
    let mut figures = Vec::new();
    figures.extend(latency_percentiles(results, job));
    figures.extend(throughput_against_offered(results, job));
    for r in over_time_scenarios(results, job) {
        let colour = results.colour_of(r.scenario.engine);
        figures.push(lag_over_time(r, colour));
        figures.push(latency_over_time(r, colour));
        if !r.resources.engine_rss_series.is_empty() {
            figures.push(memory_over_time(r, colour));
        }
    }
    figures
}

/// The frontier of `job`: per setting, p99 of the delay beyond the
/// watermark, or of a per-event job's latency after arrival (log), against
/// the rate offered, the Pareto front through the choices no other beats,
/// and the verdict's targets as lines.
pub fn frontier(results: &Results, job: &str) -> Option<Figure> {
    let points = crate::verdict::points(results, job);
    if points.is_empty() {
        return None;
    }
    // A log axis needs positive values: a delay under 1 ms is drawn at 1 ms.
    let at = |p: &crate::verdict::Point| (p.rate_per_s, p.p99_ms.max(1.0));
    let mut series = Vec::new();
    let all = distinct(points.iter().map(|p| p.setting.clone()));
    let settings = charted_settings(&points);
    for (colour, s) in settings.iter().enumerate() {
        let mut mine: Vec<(f64, f64)> = points.iter().filter(|p| p.setting == *s).map(at).collect();
        mine.sort_by(|a, b| a.0.total_cmp(&b.0));
        series.push(Series {
            name: s.clone(),
            points: mine,
            mark: Mark::LineAndPoints,
            colour,
        });
    }
    series.push(Series {
        name: "Pareto front".into(),
        points: crate::verdict::pareto_front(&points).iter().map(at).collect(),
        mark: Mark::Highlight,
        colour: 6,
    });
    let highest = points.iter().map(|p| p.rate_per_s).fold(0.0, f64::max);
    let targets: Vec<String> = crate::verdict::TARGETS_MS
        .iter()
        .map(|t| crate::verdict::target_name(*t))
        .collect();
    for (i, target) in crate::verdict::TARGETS_MS.into_iter().enumerate() {
        series.push(Series {
            // One legend entry for the four lines.
            name: if i == 0 {
                format!("targets: {}", targets.join(", "))
            } else {
                String::new()
            },
            points: vec![(0.0, target), (highest, target)],
            mark: Mark::Dashed,
            colour: 6,
        });
    }
    let judged = crate::verdict::judged_latency(results, job);
    let shown = if settings.len() < all.len() {
        format!(
            " ({} of {} settings: the front's, then each engine's best)",
            settings.len(),
            all.len()
        )
    } else {
        String::new()
    };
    Some(Figure::Line(LineChart {
        title: format!("Frontier: {job}, rate against p99 {judged}{shown}"),
        x: Axis::new("offered rate (events/s)", Scale::Linear),
        y: Axis::new(&format!("p99 {judged} (ms)"), Scale::Log),
        series,
        markers: Vec::new(),
    }))
}

/// The settings a frontier draws when there are more than a chart can
/// show: those on the Pareto front, then each engine's best (lowest p99)
/// not yet in, then the rest by p99; at most [`MOST_SERIES`], in the run's
/// order. No engine is left off while another has two lines.
fn charted_settings(points: &[crate::verdict::Point]) -> Vec<String> {
    let all = distinct(points.iter().map(|p| p.setting.clone()));
    if all.len() <= MOST_SERIES {
        return all;
    }
    let best_p99 = |setting: &String| {
        points
            .iter()
            .filter(|p| p.setting == *setting)
            .map(|p| p.p99_ms)
            .fold(f64::INFINITY, f64::min)
    };
    let mut by_p99 = all.clone();
    by_p99.sort_by(|a, b| best_p99(a).total_cmp(&best_p99(b)));
    let engine_of = |setting: &String| points.iter().find(|p| p.setting == *setting).map(|p| p.engine);
    let front = distinct(
        crate::verdict::pareto_front(points)
            .into_iter()
            .map(|p| p.setting),
    );
    let mut chosen: Vec<String> = Vec::new();
    let choose = |setting: &String, chosen: &mut Vec<String>| {
        if chosen.len() < MOST_SERIES && !chosen.contains(setting) {
            chosen.push(setting.clone());
        }
    };
    for setting in &front {
        choose(setting, &mut chosen);
    }
    for setting in &by_p99 {
        let engine = engine_of(setting);
        if !chosen.iter().any(|c| engine_of(c) == engine) {
            choose(setting, &mut chosen);
        }
    }
    for setting in &by_p99 {
        choose(setting, &mut chosen);
    }
    all.into_iter().filter(|s| chosen.contains(s)).collect()
}

/// The charts across jobs: checkpoint overhead and restarts' duplicates
/// and losses, when the run measured them.
pub fn run_figures(results: &Results) -> Vec<Figure> {
    let mut figures = checkpoint_overhead(results);
    figures.extend(duplicates_and_losses(results));
    figures
}

/// The most series a chart shows; beyond it lines are unreadable.
const MOST_SERIES: usize = 8;

/// Engine and delivery mode, with the checkpoint or trigger interval when it
/// is not the default: a setting without the job, rate or fault.
pub(crate) fn setting(r: &ScenarioResult) -> String {
    let label = r.scenario.setting_label();
    let without_job = label
        .strip_prefix(&r.scenario.job.name)
        .unwrap_or(&label)
        .trim()
        .to_string();
    match r.scenario.fault {
        FaultPlan::None => without_job,
        _ => without_job
            .rsplit_once(' ')
            .map_or(without_job.clone(), |(s, _)| s.to_string()),
    }
}

/// Runs of `job` that finished without a fault or an error.
fn steady_runs<'a>(results: &'a Results, job: &'a str) -> impl Iterator<Item = &'a ScenarioResult> {
    results.scenarios.iter().filter(move |r| {
        r.scenario.job.name == job && r.error.is_none() && r.scenario.fault == FaultPlan::None
    })
}

/// Distinct values in first-seen order.
fn distinct<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Per setting and offered rate, the median of each percentile over
/// repetitions. With more lines than a chart can show, each setting keeps
/// its highest rate. Only runs that kept up.
fn latency_percentiles(results: &Results, job: &str) -> Option<Figure> {
    let runs: Vec<&ScenarioResult> = steady_runs(results, job)
        .filter(|r| r.event_time_latency.count > 0 && results.kept_up(r.scenario.number))
        .collect();
    let settings = distinct(runs.iter().map(|r| setting(r)));
    let rates = |s: &str| {
        let mut rates = distinct(
            runs.iter()
                .filter(|r| setting(r) == s)
                .map(|r| r.offered_rate_key()),
        );
        rates.sort_unstable();
        rates
    };
    let all: usize = settings.iter().map(|s| rates(s).len()).sum();
    let mut series = Vec::new();
    for (colour, s) in settings.iter().enumerate() {
        let mut chosen = rates(s);
        if all > MOST_SERIES {
            chosen = chosen.split_off(chosen.len() - 1);
        }
        for rate in chosen {
            let same: Vec<&&ScenarioResult> = runs
                .iter()
                .filter(|r| setting(r) == *s && r.offered_rate_key() == rate)
                .collect();
            let points = PERCENTILES
                .iter()
                .filter_map(|p| {
                    Spread::of(same.iter().filter_map(|r| r.event_time_latency.at(*p)))
                        .map(|m| (*p, m.median))
                })
                .collect();
            series.push(Series {
                name: format!("{s}, {rate}/s"),
                points,
                mark: Mark::LineAndPoints,
                colour,
            });
        }
    }
    (!series.is_empty()).then(|| {
        Figure::Line(LineChart {
            title: format!("Latency percentiles: {job}"),
            x: Axis::new("percentile", Scale::Percentile),
            y: Axis::new(
                "event-time latency, window end to result committed (ms, log scale)",
                Scale::Log,
            ),
            series,
            markers: Vec::new(),
        })
    })
}

/// Engine read rate against offered rate, per setting (medians over
/// repetitions), with the searches' sustained rates marked. Only when the
/// job ran at more than one rate.
fn throughput_against_offered(results: &Results, job: &str) -> Option<Figure> {
    let runs: Vec<&ScenarioResult> = steady_runs(results, job).collect();
    let offered = distinct(runs.iter().map(|r| r.offered_rate_key()));
    if offered.len() < 2 {
        return None;
    }
    let mut series = Vec::new();
    let settings = distinct(runs.iter().map(|r| setting(r)));
    for (colour, s) in settings.iter().enumerate() {
        let mut rates = distinct(
            runs.iter()
                .filter(|r| setting(r) == *s)
                .map(|r| r.offered_rate_key()),
        );
        rates.sort_unstable();
        let points = rates
            .iter()
            .filter_map(|rate| {
                Spread::of(
                    runs.iter()
                        .filter(|r| setting(r) == *s && r.offered_rate_key() == *rate)
                        .map(|r| r.engine_records_per_s),
                )
                .map(|m| (*rate as f64, m.median))
            })
            .collect();
        series.push(Series {
            name: s.clone(),
            points,
            mark: Mark::LineAndPoints,
            colour,
        });
        // Each search's highest sustained trial, at the rate it read.
        let sustained: Vec<(f64, f64)> = results
            .searches
            .iter()
            .filter(|search| search.scenario.job.name == job)
            .filter_map(|search| {
                let rate = search.outcome.sustained_per_s?;
                let trial = search.outcome.trials.iter().find(|t| t.offered_per_s == rate)?;
                let run = runs.iter().find(|r| r.scenario.number == trial.scenario)?;
                (setting(run) == *s).then_some((rate, run.engine_records_per_s))
            })
            .collect();
        if !sustained.is_empty() {
            series.push(Series {
                name: format!("{s}: highest sustained"),
                points: sustained,
                mark: Mark::Highlight,
                colour,
            });
        }
    }
    let highest = offered.iter().copied().max().unwrap_or(1) as f64;
    series.push(Series {
        name: "read = offered".into(),
        points: vec![(0.0, 0.0), (highest, highest)],
        mark: Mark::Dashed,
        colour: 6,
    });
    Some(Figure::Line(LineChart {
        title: format!("Throughput against offered rate: {job}"),
        x: Axis::new("offered rate (events/s)", Scale::Linear),
        y: Axis::new("engine read rate (records/s)", Scale::Linear),
        series,
        markers: Vec::new(),
    }))
}

/// The runs whose lag and latency are drawn over time: every run with a
/// fault; without any, the first run of each setting at the highest rate
/// it kept up with.
fn over_time_scenarios<'a>(results: &'a Results, job: &str) -> Vec<&'a ScenarioResult> {
    let of_job = || {
        results
            .scenarios
            .iter()
            .filter(move |r| r.scenario.job.name == job && r.error.is_none() && !r.lag_series.is_empty())
    };
    let faulty: Vec<&ScenarioResult> = of_job().filter(|r| r.scenario.fault != FaultPlan::None).collect();
    if !faulty.is_empty() {
        return faulty.into_iter().take(MOST_SERIES).collect();
    }
    let steady: Vec<&ScenarioResult> = of_job()
        .filter(|r| r.scenario.repetition == 1 && results.kept_up(r.scenario.number))
        .collect();
    distinct(steady.iter().map(|r| setting(r)))
        .into_iter()
        .filter_map(|s| {
            steady
                .iter()
                .copied()
                .filter(|r| setting(r) == s)
                .max_by_key(|r| r.offered_rate_key())
        })
        .take(MOST_SERIES)
        .collect()
}

/// The fault's moments as markers: each kill and restart, the broker or
/// database stopped and back, a pause and its end.
fn fault_markers(r: &ScenarioResult) -> Vec<Marker> {
    let (down, up) = match r.scenario.fault {
        FaultPlan::BrokerOutage { .. } => ("broker stopped", "broker back"),
        FaultPlan::DatabaseRestart { .. } => ("database stopped", "database back"),
        FaultPlan::BrokerCrash { .. } => ("broker killed", "broker back"),
        FaultPlan::DatabaseCrash { .. } => ("database killed", "database back"),
        FaultPlan::Pause { .. } => ("engine paused", "engine resumed"),
        _ => ("engine killed", "engine restarted"),
    };
    let mut markers = Vec::new();
    for recovery in &r.recovery {
        markers.push(Marker {
            x: recovery.killed_at_s,
            name: down.into(),
            colour: 5,
        });
        markers.push(Marker {
            x: recovery.restarted_at_s,
            name: up.into(),
            colour: 2,
        });
    }
    // Runs from before pauses were recorded with their moments.
    if let (FaultPlan::Pause { at_s, duration_s, .. }, true) = (&r.scenario.fault, r.recovery.is_empty()) {
        markers.push(Marker {
            x: *at_s,
            name: down.into(),
            colour: 5,
        });
        markers.push(Marker {
            x: at_s + duration_s,
            name: up.into(),
            colour: 2,
        });
    }
    markers
}

fn lag_over_time(r: &ScenarioResult, colour: usize) -> Figure {
    Figure::Line(LineChart {
        title: format!("Lag over time: #{} {}", r.scenario.number, r.scenario.label()),
        x: Axis::new("time since the generator started (s)", Scale::Linear),
        y: Axis::new("seconds behind the generator (s)", Scale::Linear),
        series: vec![Series {
            name: format!("{} lag", r.scenario.engine.as_str()),
            points: r.lag_series.iter().map(|s| (s.t_s, s.lag_s)).collect(),
            mark: Mark::Line,
            colour,
        }],
        markers: fault_markers(r),
    })
}

fn latency_over_time(r: &ScenarioResult, colour: usize) -> Figure {
    let per_second = |f: fn(&crate::results::LatencySecond) -> Option<f64>| -> Vec<(f64, f64)> {
        r.latency_series
            .iter()
            .filter_map(|s| f(s).map(|v| (f64::from(s.t_s), v)))
            .collect()
    };
    Figure::Line(LineChart {
        title: format!("Latency over time: #{} {}", r.scenario.number, r.scenario.label()),
        x: Axis::new("time since the generator started (s)", Scale::Linear),
        y: Axis::new(
            "event-time latency of results committed that second (ms)",
            Scale::Linear,
        ),
        series: vec![
            Series {
                name: "p50".into(),
                points: per_second(|s| s.p50_ms),
                mark: Mark::LineAndPoints,
                colour,
            },
            Series {
                name: "max".into(),
                points: per_second(|s| s.max_ms),
                mark: Mark::Line,
                colour: 3,
            },
        ],
        markers: fault_markers(r),
    })
}

fn memory_over_time(r: &ScenarioResult, colour: usize) -> Figure {
    Figure::Line(LineChart {
        title: format!("Memory over time: #{} {}", r.scenario.number, r.scenario.label()),
        x: Axis::new("time since the generator started (s)", Scale::Linear),
        y: Axis::new("engine resident memory (MB)", Scale::Linear),
        series: vec![Series {
            name: format!("{} resident set", r.scenario.engine.as_str()),
            points: r
                .resources
                .engine_rss_series
                .iter()
                .map(|s| (s.t_s, s.bytes as f64 / 1e6))
                .collect(),
            mark: Mark::Line,
            colour,
        }],
        markers: fault_markers(r),
    })
}

/// One setting's medians at one checkpoint interval.
struct CheckpointPoint {
    /// Job and delivery mode.
    series: String,
    /// `off` or `every N s`.
    interval: String,
    /// Engine CPU seconds per million events.
    cpu: Option<f64>,
    /// p99 event-time latency, ms.
    p99: Option<f64>,
}

/// Per checkpointed continuous setting with a checkpoints-off baseline:
/// CPU per event and p99 latency against the interval, as bars.
fn checkpoint_overhead(results: &Results) -> Vec<Figure> {
    let mut points: Vec<CheckpointPoint> = Vec::new();
    for group in &results.groups {
        let Some(first) = group
            .scenarios
            .first()
            .and_then(|n| results.scenarios.iter().find(|r| r.scenario.number == *n))
        else {
            continue;
        };
        let s = &first.scenario;
        let has_baseline = group.against_checkpoints_off.is_some()
            || results.groups.iter().any(|g| {
                g.against_checkpoints_off
                    .as_ref()
                    .is_some_and(|c| c.baseline == group.label)
            });
        if s.engine != EngineName::CONTINUOUS || !has_baseline || s.fault != FaultPlan::None {
            continue;
        }
        let interval = s
            .checkpoint_interval_ms
            .map_or("off".to_string(), |ms| format!("every {} s", ms as f64 / 1000.0));
        points.push(CheckpointPoint {
            series: format!("{} {}", s.job.name, s.delivery.as_str()),
            interval,
            cpu: group.engine_cpu_s_per_million_events.map(|m| m.median),
            p99: group.p99_ms.map(|m| m.median),
        });
    }
    if points.is_empty() {
        return Vec::new();
    }
    let series_names = distinct(points.iter().map(|p| p.series.clone()));
    let mut categories = distinct(points.iter().map(|p| p.interval.clone()));
    // "off" first, then the intervals from the shortest.
    categories.sort_by_key(|c| {
        c.strip_prefix("every ")
            .and_then(|c| c.trim_end_matches(" s").parse::<f64>().ok())
            .map_or(-1, |s| (s * 1000.0) as i64)
    });
    let bars = |value: fn(&CheckpointPoint) -> Option<f64>| -> Vec<(String, Vec<f64>)> {
        series_names
            .iter()
            .map(|name| {
                let values = categories
                    .iter()
                    .map(|c| {
                        points
                            .iter()
                            .find(|p| p.series == *name && p.interval == *c)
                            .and_then(value)
                            .unwrap_or(0.0)
                    })
                    .collect();
                (name.clone(), values)
            })
            .collect()
    };
    let (cpu, p99) = (bars(|p| p.cpu), bars(|p| p.p99));
    vec![
        Figure::Bar(BarChart {
            title: "Checkpoint overhead: CPU per event (continuous engine)".into(),
            x_label: "checkpoint interval".into(),
            categories: categories.clone(),
            y_label: "engine CPU per million events (s, median)".into(),
            series: cpu,
        }),
        Figure::Bar(BarChart {
            title: "Checkpoint overhead: p99 latency (continuous engine)".into(),
            x_label: "checkpoint interval".into(),
            categories,
            y_label: "event-time latency p99 (ms, median)".into(),
            series: p99,
        }),
    ]
}

/// Duplicate rows and lost events after kills and outages, per engine and
/// delivery mode, summed over the runs with them.
fn duplicates_and_losses(results: &Results) -> Option<Figure> {
    let killed: Vec<&ScenarioResult> = results
        .scenarios
        .iter()
        .filter(|r| r.error.is_none() && !r.recovery.is_empty())
        .collect();
    if killed.is_empty() {
        return None;
    }
    let categories = distinct(
        killed
            .iter()
            .map(|r| format!("{} {}", r.scenario.engine.as_str(), r.scenario.delivery.as_str())),
    );
    let sum = |category: &str, f: fn(&ScenarioResult) -> u64| {
        killed
            .iter()
            .filter(|r| {
                format!("{} {}", r.scenario.engine.as_str(), r.scenario.delivery.as_str()) == category
            })
            .map(|r| f(r))
            .sum::<u64>() as f64
    };
    let kills: usize = killed.iter().map(|r| r.recovery.len()).sum();
    Some(Figure::Bar(BarChart {
        title: format!("Duplicates and losses after {kills} kills or outages, per delivery mode"),
        x_label: "engine and delivery mode".into(),
        series: vec![
            (
                "duplicate rows".into(),
                categories
                    .iter()
                    .map(|c| sum(c, |r| r.check.duplicate_rows))
                    .collect(),
            ),
            (
                "lost events".into(),
                categories
                    .iter()
                    .map(|c| sum(c, |r| r.check.lost_events))
                    .collect(),
            ),
        ],
        categories,
        y_label: "count (summed over runs with faults)".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Point;

    fn point(engine: EngineName, setting: &str, p99_ms: f64) -> Point {
        Point {
            engine,
            setting: setting.to_string(),
            rate_per_s: 5000.0,
            p99_ms,
            event_time_p99_ms: None,
            cores_per_100k: None,
            scenarios: vec![1],
        }
    }

    #[test]
    fn a_crowded_frontier_keeps_the_front_and_every_engine() {
        let mut points: Vec<Point> = (1..=8)
            .map(|i| {
                point(
                    EngineName::CONTINUOUS,
                    &format!("continuous upsert setting-{i}"),
                    10.0 * i as f64,
                )
            })
            .collect();
        points.push(point(EngineName::new("spark"), "spark upsert", 3000.0));
        points.push(point(EngineName::new("spark"), "spark insert", 4000.0));
        let charted = charted_settings(&points);
        assert_eq!(charted.len(), MOST_SERIES);
        assert!(
            charted.contains(&"continuous upsert setting-1".to_string()),
            "the front: {charted:?}"
        );
        assert!(
            charted.contains(&"spark upsert".to_string()),
            "Spark's best: {charted:?}"
        );
        assert!(!charted.contains(&"spark insert".to_string()), "{charted:?}");
        assert!(
            !charted.contains(&"continuous upsert setting-8".to_string()),
            "{charted:?}"
        );
    }
}
