//! The Markdown report of a fixed results file (the `tiny-run` test suite:
//! both engines, with and without a kill), as a snapshot.

use streambench_reports::markdown;
use streambench_reports::results::Results;

fn fixture() -> Results {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-run.json");
    serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("results")
}

#[test]
fn the_report_of_a_fixed_run() {
    insta::assert_snapshot!(markdown::report(&fixture()));
}

#[test]
fn the_decision_guide_says_only_what_was_measured() {
    let results = fixture();
    let guide = markdown::decision_guide(&results);
    // Every scenario of the fixture waits for a 200 ms watermark delay: no
    // engine can meet 100 ms, and the guide must not claim it did.
    let line = guide
        .lines()
        .find(|l| l.starts_with("| 100 ms"))
        .expect("100 ms row");
    assert_eq!(line.matches("not met in this run").count(), 2, "{line}");
    // At 10 s both engines met the target at the fixture's one rate.
    let line = guide
        .lines()
        .find(|l| l.starts_with("| 10000 ms"))
        .expect("10 s row");
    assert_eq!(line.matches("up to 2000 events/s").count(), 2, "{line}");
}

#[test]
fn a_job_table_shows_what_checkpoints_cost_against_none() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/checkpoint-run.json");
    let results: Results = serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("results");
    let report = markdown::report(&results);
    let row = report
        .lines()
        .find(|l| l.starts_with("| continuous | upsert") && l.contains("every 1 s"))
        .expect("a job row with checkpoint overhead");
    // Both intervals the suite ran, each with its CPU ratio and p99 change.
    assert!(
        row.contains("every 1 s: CPU x") && row.contains("every 10 s: CPU x"),
        "{row}"
    );
    assert_eq!(
        row.matches("p99 +").count() + row.matches("p99 -").count(),
        2,
        "{row}"
    );
}
