//! The verdict on fixed results files: it claims nothing that was not
//! measured, names the cheaper of two settings correctly, and says "none"
//! where nothing met a target. Fixtures as in `html.rs`.

use streambench_reports::results::{Results, ScenarioResult};
use streambench_reports::verdict::{self, JobVerdict, TARGETS_MS};
use streambench_workloads::engine::EngineName;
use streambench_workloads::suite::FaultPlan;

fn fixture(name: &str) -> Results {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("results")
}

fn job_verdict(results: &Results, job: &str) -> JobVerdict {
    verdict::verdicts(results)
        .into_iter()
        .find(|v| v.job == job)
        .unwrap_or_else(|| panic!("no verdict for {job}"))
}

/// The runs a verdict may rest on, by the rules it states.
fn judged<'a>(results: &'a Results, job: &'a str) -> impl Iterator<Item = &'a ScenarioResult> {
    results.scenarios.iter().filter(move |r| {
        r.scenario.job.name == job
            && r.passed
            && r.error.is_none()
            && r.scenario.fault == FaultPlan::None
            && results.kept_up(r.scenario.number)
    })
}

fn p99_beyond_watermark(r: &ScenarioResult) -> f64 {
    r.engine_delay.at(99.0).expect("p99")
}

#[test]
fn every_claim_rests_on_runs_that_met_it_and_none_faster_did() {
    for name in ["tiny-run", "search-run", "checkpoint-run"] {
        let results = fixture(name);
        for v in verdict::verdicts(&results) {
            assert_eq!(v.targets.len(), TARGETS_MS.len());
            for t in &v.targets {
                let Some(best) = &t.best else { continue };
                assert!(
                    best.p99_ms <= t.target_ms,
                    "{name}: {best:?} over {}",
                    t.target_ms
                );
                // Each cited scenario exists, may be judged, and is of the setting and rate claimed.
                for number in &best.scenarios {
                    let r = judged(&results, &v.job)
                        .find(|r| r.scenario.number == *number)
                        .unwrap_or_else(|| panic!("{name}: #{number} cited but not a judged run"));
                    assert_eq!(r.scenario.constant_rate(), Some(best.rate_per_s));
                    assert!(r.scenario.setting_label().ends_with(&best.setting));
                }
                // No judged run met the target at a higher rate.
                let faster = judged(&results, &v.job).find(|r| {
                    p99_beyond_watermark(r) <= t.target_ms
                        && r.scenario
                            .constant_rate()
                            .is_some_and(|rate| rate > best.rate_per_s)
                });
                assert!(faster.is_none(), "{name}: {faster:?} beats {best:?}");
            }
        }
    }
}

#[test]
fn a_target_nothing_met_says_none_and_what_came_closest() {
    let results = fixture("tiny-run");
    let v = job_verdict(&results, "tumbling");
    // Both engines' results trail the watermark by over 10 ms.
    let ten_ms = &v.targets[0];
    assert_eq!(ten_ms.target_ms, 10.0);
    assert!(ten_ms.best.is_none() && ten_ms.engines.is_empty());
    let closest = ten_ms.closest.as_ref().expect("what came closest");
    let lowest = judged(&results, "tumbling")
        .map(p99_beyond_watermark)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(closest.p99_ms, lowest);
    let table = v.table().render();
    let row = table
        .lines()
        .find(|l| l.starts_with("| 10 ms"))
        .expect("10 ms row");
    assert!(row.contains("none (closest:"), "{row}");
    // The sentence names the loosest target nothing met (100 ms: then 10 ms neither).
    assert!(v.targets[1].best.is_none());
    assert!(
        v.sentence().contains("nothing meets 100 ms (closest: "),
        "{}",
        v.sentence()
    );
}

#[test]
fn the_cheaper_of_two_settings_at_one_rate_is_named() {
    let mut results = fixture("tiny-run");
    let cpu_of = |results: &mut Results, engine: EngineName, cpu: f64| {
        for r in results
            .scenarios
            .iter_mut()
            .filter(|r| r.scenario.engine == engine)
        {
            r.resources.engine_cpu_s_per_million_events = cpu;
        }
    };
    for (continuous, microbatch, cheaper) in [
        (10.0, 30.0, EngineName::CONTINUOUS),
        (30.0, 10.0, EngineName::MICROBATCH),
    ] {
        cpu_of(&mut results, EngineName::CONTINUOUS, continuous);
        cpu_of(&mut results, EngineName::MICROBATCH, microbatch);
        let v = job_verdict(&results, "tumbling");
        // At 10 s both engines met the target at the fixture's one rate.
        let ten_s = v.targets.iter().find(|t| t.target_ms == 10_000.0).expect("10 s");
        assert_eq!(ten_s.engines.len(), 2, "{ten_s:?}");
        let c = ten_s.cheaper.as_ref().expect("two settings at one rate");
        assert_eq!(c.cheaper.engine, cheaper, "{c:?}");
        assert!((c.cpu_ratio() - 1.0 / 3.0).abs() < 1e-9, "{}", c.cpu_ratio());
        // Cores per 100,000 events/s: CPU seconds per million events over ten.
        assert_eq!(c.cheaper.cores_per_100k, Some(1.0));
        assert!(
            v.sentence().contains(&format!(
                "{} uses 0.33x the CPU of {}",
                c.cheaper.setting, c.than.setting
            )),
            "{}",
            v.sentence()
        );
    }
}

#[test]
fn the_tightest_target_met_names_only_the_engines_that_met_it() {
    let results = fixture("search-run");
    let v = job_verdict(&results, "tumbling");
    let met: Vec<_> = v.targets.iter().filter(|t| t.best.is_some()).collect();
    let tightest = met.first().expect("some target is met");
    for engine in [EngineName::CONTINUOUS, EngineName::MICROBATCH] {
        let any = judged(&results, "tumbling")
            .any(|r| r.scenario.engine == engine && p99_beyond_watermark(r) <= tightest.target_ms);
        assert_eq!(
            tightest.engines.contains(&engine),
            any,
            "{engine:?} at {}",
            tightest.target_ms
        );
    }
    let sentence = v.sentence();
    let target = verdict::target_name(tightest.target_ms);
    if tightest.engines.len() == 1 {
        assert!(
            sentence.contains(&format!("only {} meets {target}", tightest.engines[0].as_str())),
            "{sentence}"
        );
    }
    // Every scenario number in the sentence is a run of the fixture.
    for cited in sentence.split('#').skip(1) {
        let number: usize = cited
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .expect("a number after #");
        assert!(
            results.scenarios.iter().any(|r| r.scenario.number == number),
            "#{number}"
        );
    }
}

#[test]
fn the_pareto_front_holds_only_points_nothing_beats() {
    let results = fixture("search-run");
    let points = verdict::points(&results, "tumbling");
    let front = verdict::pareto_front(&points);
    assert!(!front.is_empty());
    for p in &front {
        assert!(
            !points
                .iter()
                .any(|q| q.rate_per_s > p.rate_per_s && q.p99_ms < p.p99_ms),
            "{p:?} is beaten"
        );
    }
    // The fastest point with the lowest p99 among equals is always on it.
    let fastest = points.iter().map(|p| p.rate_per_s).fold(0.0, f64::max);
    assert!(front.iter().any(|p| p.rate_per_s == fastest));
}

#[test]
fn the_sentence_names_the_next_tightest_target_that_more_engines_meet() {
    let mut results = fixture("tiny-run");
    // Continuous now meets 100 ms; micro-batch (660 ms) meets 1 s and 10 s.
    for r in results
        .scenarios
        .iter_mut()
        .filter(|r| r.scenario.engine == EngineName::CONTINUOUS)
    {
        for (percentile, ms) in &mut r.engine_delay.percentiles_ms {
            if *percentile >= 99.0 {
                *ms = 50.0;
            }
        }
    }
    let sentence = job_verdict(&results, "tumbling").sentence();
    assert!(sentence.contains("only continuous meets 100 ms"), "{sentence}");
    assert!(sentence.contains("microbatch also meets 1 s"), "{sentence}");
    assert!(!sentence.contains("also meets 10 s"), "{sentence}");
}

#[test]
fn a_watermark_sweeps_steps_are_left_to_its_own_verdict_when_the_job_also_ran_unswept() {
    let results = fixture("tiny-run");
    let before = verdict::verdicts(&results);
    let v = &before[0];
    let cited = v
        .targets
        .iter()
        .find_map(|t| t.best.clone())
        .expect("a target met");
    let mut swept = results.clone();
    for r in &mut swept.scenarios {
        if cited.scenarios.contains(&r.scenario.number) {
            r.scenario.watermark_delay_ms = Some(r.scenario.job.watermark_delay_ms);
        }
    }
    let after = job_verdict(&swept, &v.job);
    for t in &after.targets {
        if let Some(best) = &t.best {
            assert!(
                best.scenarios.iter().all(|n| !cited.scenarios.contains(n)),
                "a sweep step judged beside the unswept runs: {best:?}"
            );
        }
    }
    // A job run only in sweeps is judged on them all.
    let mut only_swept = results.clone();
    for r in &mut only_swept.scenarios {
        r.scenario.watermark_delay_ms = Some(r.scenario.job.watermark_delay_ms);
    }
    let cited_of = |verdicts: Vec<JobVerdict>| -> Vec<Vec<usize>> {
        verdicts
            .iter()
            .flat_map(|v| {
                v.targets
                    .iter()
                    .map(|t| t.best.as_ref().map(|b| b.scenarios.clone()).unwrap_or_default())
            })
            .collect()
    };
    assert_eq!(cited_of(verdict::verdicts(&only_swept)), cited_of(before));
}

#[test]
fn the_also_clause_does_not_repeat_the_cheaper_setting_the_tightest_target_named() {
    // Continuous and Flink meet 100 ms and, with them, 1 s, where Spark's
    // real-time mode also does: the cheaper pair at 1 s is the one at 100 ms.
    let results = fixture("five-engines-per-event-run");
    let sentence = job_verdict(&results, "alerts").sentence();
    assert!(sentence.contains("spark_realtime also meets 1 s"), "{sentence}");
    assert_eq!(sentence.matches(", and at one rate").count(), 1, "{sentence}");
}

#[test]
fn a_suite_none_of_whose_runs_can_be_judged_says_why() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-run.json");
    let mut results: streambench_reports::results::Results =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("results");
    assert_eq!(
        streambench_reports::verdict::unjudged(&results),
        None,
        "its runs are judged"
    );
    for run in &mut results.scenarios {
        run.engine_delay = Default::default();
    }
    let why = streambench_reports::verdict::unjudged(&results).expect("nothing judged");
    let runs = results.scenarios.len();
    assert!(
        why.starts_with(&format!(
            "No run of this suite could be judged: of its {runs} runs,"
        )) && why.contains(&format!("{runs} measured no latency after the warm-up")),
        "{why}"
    );
    let printed = streambench_reports::verdict::sentences(&results);
    assert_eq!(printed, format!("verdict: {why}\n"), "`run` prints it last");
    assert!(streambench_reports::markdown::report(&results).contains(&why));
}
