//! The capacity curve: when a suite searches an engine's highest sustained
//! rate at more than one parallelism (`[settings.<engine>] parallelism`, or
//! Spark's `master = "local[N]"`), how the rate grows with it. Per job and
//! setting, each parallelism's highest sustained rate, its events per CPU
//! second, and its scaling efficiency: the rate at N over N times the rate at
//! 1, so 1.00 is linear. Nexmark and the OpenMessaging Benchmark report
//! scale-out the same way.

use streambench_workloads::engine::EngineName;
use streambench_workloads::scenario::{Scenario, SettingValue};

use crate::figures::Figure;
use crate::results::{Results, SearchResult, Verdict};
use crate::svg::{Axis, LineChart, Mark, Scale, Series};
use crate::table::Table;
use crate::verdict::{cite, rate};

/// One parallelism of one setting: where its search ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The parallelism.
    pub parallelism: u32,
    /// The highest rate sustained.
    pub sustained_per_s: f64,
    /// The generator could not offer a rate tried: the true figure may be
    /// higher.
    pub generator_bound: bool,
    /// Events per CPU second of the engine in the run that sustained it.
    pub events_per_core_s: Option<f64>,
    /// The scenario that sustained it.
    pub scenario: usize,
}

/// One setting's searches over parallelism, lowest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The job.
    pub job: String,
    /// The engine.
    pub engine: EngineName,
    /// The engine setting without its parallelism: `continuous upsert`.
    pub setting: String,
    /// Each parallelism whose search sustained a rate.
    pub steps: Vec<Step>,
}

/// A scaling efficiency, exact or a bound: a rate the generator limited is
/// a lower bound of the engine's, so a ratio with it above is a lower
/// bound, with it below an upper one, and with both unknown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Efficiency {
    /// The rate at N over N times the rate at 1, as measured.
    pub ratio: f64,
    /// How the true ratio relates to the measured one.
    pub bound: Bound,
}

/// How a true figure relates to the one measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// It is the figure measured.
    Exact,
    /// It may be higher.
    AtLeast,
    /// It may be lower.
    AtMost,
}

impl std::fmt::Display for Efficiency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.bound {
            Bound::Exact => write!(f, "{:.2}", self.ratio),
            Bound::AtLeast => write!(f, "at least {:.2}", self.ratio),
            Bound::AtMost => write!(f, "at most {:.2}", self.ratio),
        }
    }
}

impl Curve {
    /// The rate at `step` over its parallelism times the rate at 1; none
    /// without a step at 1, or when the generator bounded both rates.
    pub fn efficiency(&self, step: &Step) -> Option<Efficiency> {
        let one = self.steps.iter().find(|s| s.parallelism == 1)?;
        let bound = match (step.parallelism == 1, step.generator_bound, one.generator_bound) {
            (true, ..) => Bound::Exact,
            (false, true, true) => return None,
            (false, true, false) => Bound::AtLeast,
            (false, false, true) => Bound::AtMost,
            (false, false, false) => Bound::Exact,
        };
        Some(Efficiency {
            ratio: step.sustained_per_s / (f64::from(step.parallelism) * one.sustained_per_s),
            bound,
        })
    }

    /// The curve in words, every figure cited: "`tumbling` on continuous
    /// upsert sustains 150,000 events/s at parallelism 1 (#3), 240,000 at 2
    /// (efficiency 0.80, #9) and 250,000 at 4 (0.42, #15)."
    pub fn sentence(&self) -> String {
        let mut named = false;
        let each: Vec<String> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let at_least = if step.generator_bound { "at least " } else { "" };
                let figure = format!("{at_least}{}", rate(step.sustained_per_s));
                let efficiency = match self.efficiency(step) {
                    Some(e) if step.parallelism != 1 => {
                        // The first efficiency given is named; the rest follow it.
                        let word = if named { "" } else { "efficiency " };
                        named = true;
                        format!("{word}{e}, ")
                    }
                    _ => String::new(),
                };
                let cited = format!("({efficiency}#{})", step.scenario);
                if i == 0 {
                    format!("{figure} events/s at parallelism {} {cited}", step.parallelism)
                } else {
                    format!("{figure} at {} {cited}", step.parallelism)
                }
            })
            .collect();
        let listed = match each.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => each.join(""),
        };
        format!("`{}` on {} sustains {listed}.", self.job, self.setting)
    }
}

/// The parallelism a scenario ran at: its `parallelism` setting, or the N
/// of a `local[N]` Spark master; none when it sets neither.
pub fn parallelism(scenario: &Scenario) -> Option<u32> {
    match scenario.settings.get("parallelism") {
        Some(SettingValue::Integer(n)) => u32::try_from(*n).ok(),
        _ => match scenario.settings.get("master") {
            Some(SettingValue::Text(master)) => {
                master.strip_prefix("local[")?.strip_suffix(']')?.parse().ok()
            }
            _ => None,
        },
    }
}

/// The setting of `scenario` without its job, parallelism or rate:
/// `continuous upsert`.
fn setting_without_parallelism(scenario: &Scenario) -> String {
    let mut without = scenario.clone();
    without.settings.remove("parallelism");
    without.settings.remove("master");
    let label = without.setting_label();
    label
        .strip_prefix(&scenario.job.name)
        .unwrap_or(&label)
        .trim()
        .to_string()
}

/// Every curve of the run with at least two parallelisms, by job in
/// first-search order, then setting.
pub fn curves(results: &Results) -> Vec<Curve> {
    let mut curves: Vec<Curve> = Vec::new();
    for search in &results.searches {
        let Some(step) = parallelism(&search.scenario).and_then(|n| sustained(results, search, n)) else {
            continue;
        };
        let (job, setting) = (
            search.scenario.job.name.clone(),
            setting_without_parallelism(&search.scenario),
        );
        match curves.iter_mut().find(|c| c.job == job && c.setting == setting) {
            Some(curve) => curve.steps.push(step),
            None => curves.push(Curve {
                job,
                engine: search.scenario.engine,
                setting,
                steps: vec![step],
            }),
        }
    }
    for curve in &mut curves {
        curve.steps.sort_by_key(|s| s.parallelism);
    }
    curves.retain(|c| c.steps.len() > 1);
    curves
}

/// Where `search` (at parallelism `n`) ended, with the run that sustained
/// its highest rate; none when it sustained no rate.
fn sustained(results: &Results, search: &SearchResult, n: u32) -> Option<Step> {
    let best = search.outcome.sustained_per_s?;
    let trial = search
        .outcome
        .trials
        .iter()
        .find(|t| t.offered_per_s == best && t.verdict == Verdict::Sustained)?;
    let run = results
        .scenarios
        .iter()
        .find(|r| r.scenario.number == trial.scenario);
    Some(Step {
        parallelism: n,
        sustained_per_s: best,
        generator_bound: search.outcome.generator_bound,
        events_per_core_s: run.and_then(|r| r.resources.events_per_core_s()),
        scenario: trial.scenario,
    })
}

/// What the curve measures and where it flattens on this machine.
pub fn caveat(results: &Results) -> String {
    let mut caveat = format!(
        "Each setting's highest sustained rate at each parallelism, from its rate search. Scaling \
         efficiency is the rate at N over N times the rate at 1: 1.00 is linear. This machine has {} \
         cores, shared with the broker, the database and the generator, so the curve flattens once \
         the engine's threads outnumber them; events/s per core shows what each step burned.",
        results.context.cores
    );
    if curves(results)
        .iter()
        .flat_map(|c| &c.steps)
        .any(|s| s.generator_bound)
    {
        caveat.push_str(
            " A rate given as \"at least\" is where the generator could not offer the next rate tried: \
             the engine's own limit lies above it, so an efficiency over it is an upper bound, one \
             of it a lower bound, and one of two such rates unknown (-).",
        );
    }
    caveat
}

/// The curves as Markdown: a sentence per setting and one table; empty when
/// the run compared no parallelism.
pub fn markdown(results: &Results) -> String {
    let curves = curves(results);
    if curves.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for curve in &curves {
        out.push_str(&curve.sentence());
        out.push_str("\n\n");
    }
    out.push_str(&table(&curves).render());
    out
}

/// What `run` prints after the verdict: one line per setting.
pub fn sentences(results: &Results) -> String {
    curves(results)
        .iter()
        .map(|c| format!("scaling: {}\n", c.sentence()))
        .collect()
}

/// Every step of every curve, a row each.
pub fn table(curves: &[Curve]) -> Table {
    let mut table = Table::new(&[
        "job",
        "setting",
        ">parallelism",
        ">sustained events/s",
        ">events/s per core",
        ">scaling efficiency",
        "scenario",
    ]);
    for curve in curves {
        for step in &curve.steps {
            table.row(vec![
                curve.job.clone(),
                curve.setting.clone(),
                step.parallelism.to_string(),
                format!(
                    "{}{}",
                    if step.generator_bound { ">= " } else { "" },
                    rate(step.sustained_per_s)
                ),
                crate::markdown::per_core(step.events_per_core_s),
                curve.efficiency(step).map_or("-".into(), |e| e.to_string()),
                cite(&[step.scenario]),
            ]);
        }
    }
    table
}

/// The chart of `job`'s curves: highest sustained rate against parallelism,
/// a line per setting.
pub fn figure(results: &Results, job: &str) -> Option<Figure> {
    let series: Vec<Series> = curves(results)
        .into_iter()
        .filter(|c| c.job == job)
        .map(|curve| Series {
            colour: results.colour_of(curve.engine),
            name: curve.setting.clone(),
            points: curve
                .steps
                .iter()
                .map(|s| (f64::from(s.parallelism), s.sustained_per_s))
                .collect(),
            mark: Mark::LineAndPoints,
        })
        .collect();
    if series.is_empty() {
        return None;
    }
    Some(Figure::Line(LineChart {
        title: format!("Capacity curve: {job}, highest sustained rate against parallelism"),
        x: Axis::new("parallelism", Scale::Linear),
        y: Axis::new("highest sustained rate (events/s)", Scale::Linear),
        series,
        markers: Vec::new(),
    }))
}
