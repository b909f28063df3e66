//! Repetitions summarised, so users see the noise before the differences:
//! the median and range of each figure over the runs of one setting, and,
//! for checkpointed settings, what checkpoints cost against the same
//! setting without them.

pub use streambench_reports::results::{CheckpointCost, GroupSummary, Spread};
use streambench_workloads::engine::EngineName;
use streambench_workloads::scenario::Scenario;

use super::results::{ScenarioResult, SearchResult};

/// The scenario with what repetitions vary cleared, to group by.
fn setting(scenario: &Scenario) -> Scenario {
    Scenario {
        number: 0,
        repetition: 0,
        ..scenario.clone()
    }
}

/// Groups the plain runs (not search trials) by setting, in first-run order.
pub fn group_runs(results: &[ScenarioResult], searches: &[SearchResult]) -> Vec<GroupSummary> {
    let trials: Vec<usize> = searches
        .iter()
        .flat_map(|s| s.outcome.trials.iter().map(|t| t.scenario))
        .collect();
    let mut groups: Vec<(Scenario, Vec<&ScenarioResult>)> = Vec::new();
    for result in results.iter().filter(|r| !trials.contains(&r.scenario.number)) {
        let key = setting(&result.scenario);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(result),
            None => groups.push((key, vec![result])),
        }
    }
    let mut summaries: Vec<GroupSummary> = groups
        .iter()
        .map(|(key, members)| summarise(key, members))
        .collect();
    for (i, (key, _)) in groups.iter().enumerate() {
        if key.engine != EngineName::CONTINUOUS || key.checkpoint_interval_ms.is_none() {
            continue;
        }
        let baseline_key = Scenario {
            checkpoint_interval_ms: None,
            ..key.clone()
        };
        if let Some(j) = groups.iter().position(|(k, _)| *k == baseline_key) {
            summaries[i].against_checkpoints_off = Some(cost(&summaries[i], &summaries[j]));
        }
    }
    summaries.extend(group_searches(searches));
    summaries
}

fn summarise(key: &Scenario, members: &[&ScenarioResult]) -> GroupSummary {
    let ok: Vec<&&ScenarioResult> = members.iter().filter(|r| r.error.is_none()).collect();
    let latency = |f: &dyn Fn(&ScenarioResult) -> Option<f64>| Spread::of(ok.iter().filter_map(|r| f(r)));
    GroupSummary {
        label: key.label(),
        scenarios: members.iter().map(|r| r.scenario.number).collect(),
        passed: members.iter().filter(|r| r.passed).count(),
        runs: members.len(),
        p50_ms: latency(&|r| r.event_time_latency.at(50.0)),
        p99_ms: latency(&|r| r.event_time_latency.at(99.0)),
        max_ms: latency(&|r| (r.event_time_latency.count > 0).then_some(r.event_time_latency.max_ms)),
        engine_records_per_s: Spread::of(ok.iter().map(|r| r.engine_records_per_s)),
        engine_cpu_s_per_million_events: Spread::of(
            ok.iter()
                .map(|r| r.resources.engine_cpu_s_per_million_events)
                .filter(|v| *v > 0.0),
        ),
        sustained_per_s: None,
        against_checkpoints_off: None,
    }
}

fn cost(with: &GroupSummary, without: &GroupSummary) -> CheckpointCost {
    let ratio = |a: Option<Spread>, b: Option<Spread>| match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => Some(a.median / b.median),
        _ => None,
    };
    let difference = |a: Option<Spread>, b: Option<Spread>| Some(a?.median - b?.median);
    CheckpointCost {
        baseline: without.label.clone(),
        throughput_ratio: ratio(with.engine_records_per_s, without.engine_records_per_s),
        cpu_ratio: ratio(
            with.engine_cpu_s_per_million_events,
            without.engine_cpu_s_per_million_events,
        ),
        p50_difference_ms: difference(with.p50_ms, without.p50_ms),
        p99_difference_ms: difference(with.p99_ms, without.p99_ms),
    }
}

/// One summary per searched setting: the spread of the sustained rate over
/// its repetitions.
fn group_searches(searches: &[SearchResult]) -> Vec<GroupSummary> {
    let mut groups: Vec<(Scenario, Vec<&SearchResult>)> = Vec::new();
    for search in searches {
        let key = setting(&search.scenario);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(search),
            None => groups.push((key, vec![search])),
        }
    }
    groups
        .into_iter()
        .map(|(_, members)| GroupSummary {
            label: format!("{} (search)", members[0].label),
            scenarios: Vec::new(),
            passed: members
                .iter()
                .filter(|s| s.outcome.sustained_per_s.is_some())
                .count(),
            runs: members.len(),
            p50_ms: None,
            p99_ms: None,
            max_ms: None,
            engine_records_per_s: None,
            engine_cpu_s_per_million_events: None,
            sustained_per_s: Spread::of(members.iter().filter_map(|s| s.outcome.sustained_per_s)),
            against_checkpoints_off: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_is_median_and_range() {
        let s = Spread::of([3.0, 1.0, 2.0]).expect("spread");
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let s = Spread::of([4.0, 1.0, 2.0, 10.0]).expect("spread");
        assert_eq!(s.median, 3.0);
        assert_eq!(Spread::of([f64::NAN]), None);
        assert_eq!(Spread::of(Vec::new()), None);
    }

    #[test]
    fn repetitions_group_and_checkpoints_are_compared_with_none() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../workloads/suites/checkpoint.toml");
        let suite = crate::args::read_suite(std::path::Path::new(path)).expect("suite");
        let scenarios = streambench_workloads::scenario::expand(&suite).expect("expand");
        let results: Vec<ScenarioResult> = scenarios
            .iter()
            .map(|scenario| {
                let mut r = ScenarioResult::unfinished(scenario, "t");
                r.passed = true;
                // Checkpoints every 1 s cost 10 % CPU and 20 ms at p50; runs vary by repetition.
                let (cpu, p50) = match scenario.checkpoint_interval_ms {
                    None => (10.0, 100.0),
                    Some(1000) => (11.0, 120.0),
                    Some(_) => (10.0, 100.0),
                };
                let jitter = scenario.repetition as f64;
                r.resources.engine_cpu_s_per_million_events = cpu + jitter - 2.0;
                r.engine_records_per_s = 20_000.0;
                r.event_time_latency.count = 1;
                r.event_time_latency.percentiles_ms = vec![(50.0, p50 + jitter - 2.0), (99.0, p50 * 2.0)];
                r
            })
            .collect();
        let groups = group_runs(&results, &[]);
        // 2 jobs x 3 intervals, 3 repetitions each.
        assert_eq!(groups.len(), 6);
        assert!(groups.iter().all(|g| g.runs == 3 && g.passed == 3));
        let every_second = groups
            .iter()
            .find(|g| g.label.starts_with("tumbling") && g.label.contains("checkpoint-1s"))
            .expect("tumbling, checkpoints every 1 s");
        let p50 = every_second.p50_ms.expect("p50");
        assert_eq!((p50.median, p50.min, p50.max), (120.0, 119.0, 121.0));
        let cost = every_second
            .against_checkpoints_off
            .as_ref()
            .expect("compared with off");
        assert!(cost.baseline.contains("checkpoints-off"), "{cost:?}");
        assert_eq!(cost.throughput_ratio, Some(1.0));
        assert!(cost.cpu_ratio.is_some_and(|r| (r - 1.1).abs() < 1e-9), "{cost:?}");
        assert_eq!(cost.p50_difference_ms, Some(20.0));
        let off = groups
            .iter()
            .find(|g| g.label.contains("checkpoints-off"))
            .expect("off");
        assert!(off.against_checkpoints_off.is_none());
    }
}
