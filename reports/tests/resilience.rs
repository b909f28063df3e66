//! The fault verdict on a fixed results file: its two kill runs
//! (continuous back in 1.5 s, micro-batch in 2.1 s), then the same with a
//! third run in which the micro-batch engine lost events.

use serde_json::{Value, json};
use streambench_reports::resilience;
use streambench_reports::results::Results;

fn tiny_run() -> Value {
    let path = format!("{}/tests/fixtures/tiny-run.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("json")
}

#[test]
fn every_engine_that_kept_its_promise_is_cited_with_its_recovery() {
    let results: Results = serde_json::from_value(tiny_run()).expect("results");
    let verdicts = resilience::verdicts(&results);
    assert_eq!(verdicts.len(), 1, "one kind of fault: {verdicts:#?}");
    assert_eq!(
        verdicts[0].sentence(),
        "engine kill: every engine kept its delivery promise (2 of 2 runs exact, nothing lost, no duplicates \
         outside insert); back at its lag (from the restart), quickest first: continuous 1.5 s (#2), \
         microbatch 2.1 s (#4)."
    );
    let markdown = streambench_reports::markdown::report(&results);
    assert!(
        markdown.contains("## Verdict") && markdown.contains("engine kill: every engine"),
        "{markdown}"
    );
    assert!(resilience::sentences(&results).starts_with("faults: engine kill: "));
}

#[test]
fn a_broken_promise_names_the_engine_its_runs_and_what_it_lost() {
    let mut value = tiny_run();
    let mut broken = value["scenarios"][3].clone();
    broken["scenario"]["number"] = json!(5);
    broken["passed"] = json!(false);
    broken["check"]["lost_events"] = json!(12);
    broken["recovery"][0]["recovery_s"] = Value::Null;
    value["scenarios"].as_array_mut().expect("scenarios").push(broken);
    let results: Results = serde_json::from_value(value).expect("results");
    let sentence = resilience::verdicts(&results)[0].sentence();
    assert!(
        sentence.starts_with(
            "engine kill: microbatch broke its delivery promise in 1 of 2 runs (#5; 12 lost, 0 duplicates \
             outside insert); continuous kept it;"
        ),
        "{sentence}"
    );
    assert!(
        sentence.contains("microbatch 2.1 s (#4, #5, 1 not back before the next fault or the end)"),
        "{sentence}"
    );
}

#[test]
fn a_run_without_faults_has_no_fault_verdict() {
    let mut value = tiny_run();
    let plain: Vec<Value> = value["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .filter(|r| r["scenario"]["fault"]["kind"] == "none")
        .cloned()
        .collect();
    value["scenarios"] = Value::Array(plain);
    let results: Results = serde_json::from_value(value).expect("results");
    assert!(resilience::verdicts(&results).is_empty());
    assert!(resilience::markdown(&results).is_empty());
}
