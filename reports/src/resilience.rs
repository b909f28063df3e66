//! The verdict of a suite that injects faults: per kind of fault, whether
//! every engine kept its delivery promise (the table equal to the oracle,
//! nothing lost, nothing twice outside `insert`), and how soon each was back
//! at its lag. Every figure cites its scenarios.

use std::collections::BTreeMap;

use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::engine::EngineName;
use streambench_workloads::suite::FaultPlan;

use crate::results::{Results, ScenarioResult};
use crate::verdict::cite;

/// What one kind of fault did to the engines that met it.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultVerdict {
    /// The kind, as people say it: `broker crash`.
    pub fault: &'static str,
    /// Per engine, in [`EngineName`]'s order.
    pub engines: Vec<EngineFaults>,
}

/// One engine's runs under one kind of fault.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineFaults {
    /// The engine.
    pub engine: EngineName,
    /// Its runs' scenario numbers.
    pub scenarios: Vec<usize>,
    /// The runs that broke the promise (or failed), by scenario number.
    pub broken: Vec<usize>,
    /// Events lost over its runs.
    pub lost: u64,
    /// Duplicate rows over its runs in modes that promise none.
    pub duplicates: u64,
    /// Each fault's recovery time, seconds from the restart until the lag
    /// was back at its level before (faults not recovered from are left out).
    pub recovery_s: Vec<f64>,
    /// Faults it was not back from before the next one or the run's end.
    pub unrecovered: usize,
}

impl EngineFaults {
    /// `7.7-9.8 s`, or `9.3 s` when the fastest and slowest agree.
    fn recovery_range(&self) -> Option<String> {
        let fastest = self.recovery_s.iter().copied().reduce(f64::min)?;
        let slowest = self.recovery_s.iter().copied().reduce(f64::max)?;
        Some(if format!("{fastest:.1}") == format!("{slowest:.1}") {
            format!("{slowest:.1} s")
        } else {
            format!("{fastest:.1}-{slowest:.1} s")
        })
    }

    fn slowest(&self) -> f64 {
        self.recovery_s.iter().copied().reduce(f64::max).unwrap_or(0.0)
    }
}

/// The kind of `fault` as people say it; `None` for no fault.
pub fn fault_kind(fault: &FaultPlan) -> Option<&'static str> {
    Some(match fault {
        FaultPlan::None => return None,
        FaultPlan::Kill { .. } => "engine kill",
        FaultPlan::Kills { .. } => "kill storm",
        FaultPlan::Pause { .. } => "engine pause",
        FaultPlan::BrokerOutage { .. } => "broker outage",
        FaultPlan::DatabaseRestart { .. } => "database restart",
        FaultPlan::BrokerCrash { .. } => "broker crash",
        FaultPlan::DatabaseCrash { .. } => "database crash",
    })
}

/// Every kind of fault the run injected, in the order it first met each.
pub fn verdicts(results: &Results) -> Vec<FaultVerdict> {
    let mut kinds: Vec<&'static str> = Vec::new();
    let mut runs: BTreeMap<(&'static str, EngineName), Vec<&ScenarioResult>> = BTreeMap::new();
    for r in &results.scenarios {
        let Some(kind) = fault_kind(&r.scenario.fault) else {
            continue;
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
        runs.entry((kind, r.scenario.engine)).or_default().push(r);
    }
    kinds
        .into_iter()
        .map(|fault| FaultVerdict {
            fault,
            engines: results
                .engines()
                .iter()
                .filter_map(|engine| runs.get(&(fault, *engine)).map(|r| engine_faults(*engine, r)))
                .collect(),
        })
        .collect()
}

fn engine_faults(engine: EngineName, runs: &[&ScenarioResult]) -> EngineFaults {
    let promises_no_duplicates = |r: &ScenarioResult| r.scenario.delivery != DeliveryMode::Insert;
    EngineFaults {
        engine,
        scenarios: runs.iter().map(|r| r.scenario.number).collect(),
        broken: runs
            .iter()
            .filter(|r| !r.passed || r.error.is_some())
            .map(|r| r.scenario.number)
            .collect(),
        lost: runs.iter().map(|r| r.check.lost_events).sum(),
        duplicates: runs
            .iter()
            .filter(|r| promises_no_duplicates(r))
            .map(|r| r.check.duplicate_rows)
            .sum(),
        recovery_s: runs
            .iter()
            .flat_map(|r| r.recovery.iter().filter_map(|k| k.recovery_s))
            .collect(),
        unrecovered: runs
            .iter()
            .map(|r| r.recovery.iter().filter(|k| k.recovery_s.is_none()).count())
            .sum(),
    }
}

impl FaultVerdict {
    /// For example: "broker crash: every engine kept its delivery promise
    /// (11 of 11 runs exact, nothing lost, no duplicates outside insert);
    /// back at its lag (from the restart), quickest first: continuous
    /// 7.7-9.8 s (#1, #3), spark 11.0-14.3 s (#17, #19)." Quickest is by
    /// each engine's slowest recovery: the one a team must plan for.
    pub fn sentence(&self) -> String {
        format!("{}: {}{}.", self.fault, self.promises(), self.recoveries())
    }

    fn promises(&self) -> String {
        let runs: usize = self.engines.iter().map(|e| e.scenarios.len()).sum();
        let broke: Vec<&EngineFaults> = self.engines.iter().filter(|e| !e.broken.is_empty()).collect();
        if broke.is_empty() {
            return format!(
                "every engine kept its delivery promise ({runs} of {runs} runs exact, nothing lost, no duplicates outside insert)"
            );
        }
        let mut parts: Vec<String> = broke
            .iter()
            .map(|e| {
                format!(
                    "{} broke its delivery promise in {} of {} runs ({}; {} lost, {} duplicates outside insert)",
                    e.engine.as_str(),
                    e.broken.len(),
                    e.scenarios.len(),
                    cite(&e.broken),
                    e.lost,
                    e.duplicates
                )
            })
            .collect();
        let kept: Vec<&str> = self
            .engines
            .iter()
            .filter(|e| e.broken.is_empty())
            .map(|e| e.engine.as_str())
            .collect();
        if !kept.is_empty() {
            parts.push(format!("{} kept it", kept.join(" and ")));
        }
        parts.join("; ")
    }

    fn recoveries(&self) -> String {
        let mut timed: Vec<&EngineFaults> =
            self.engines.iter().filter(|e| !e.recovery_s.is_empty()).collect();
        if timed.is_empty() {
            return String::new();
        }
        timed.sort_by(|a, b| a.slowest().total_cmp(&b.slowest()));
        let each: Vec<String> = timed
            .iter()
            .filter_map(|e| {
                let unrecovered = match e.unrecovered {
                    0 => String::new(),
                    n => format!(", {n} not back before the next fault or the end"),
                };
                let range = e.recovery_range()?;
                Some(format!(
                    "{} {range} ({}{unrecovered})",
                    e.engine.as_str(),
                    cite(&e.scenarios)
                ))
            })
            .collect();
        format!(
            "; back at its lag (from the restart), quickest first: {}",
            each.join(", ")
        )
    }
}

/// The fault verdicts as Markdown paragraphs; empty when the run had no faults.
pub fn markdown(results: &Results) -> String {
    verdicts(results)
        .iter()
        .map(|v| format!("{}\n\n", v.sentence()))
        .collect()
}

/// What `run` prints for them: a `faults:` line per kind.
pub fn sentences(results: &Results) -> String {
    verdicts(results)
        .iter()
        .map(|v| format!("faults: {}\n", v.sentence()))
        .collect()
}
