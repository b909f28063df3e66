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
    // The guide judges the delay beyond the watermark: the fixture's runs
    // without a fault trail it by 262 ms (continuous) and 660 ms
    // (micro-batch), so neither meets 100 ms and both meet 1 s.
    let line = guide
        .lines()
        .find(|l| l.starts_with("| 100 ms"))
        .expect("100 ms row");
    assert_eq!(line.matches("not met in this run").count(), 2, "{line}");
    for target in ["| 1 s", "| 10 s"] {
        let line = guide
            .lines()
            .find(|l| l.starts_with(target))
            .unwrap_or_else(|| panic!("{target} row"));
        assert_eq!(line.matches("up to 2000 events/s").count(), 2, "{line}");
    }
}

#[test]
fn the_report_opens_with_its_verdict() {
    let report = markdown::report(&fixture());
    let verdict = report.find("## Verdict").expect("a verdict");
    assert!(
        verdict < report.find("## Scenarios").expect("scenarios"),
        "the verdict comes first"
    );
    assert!(
        report.contains("`tumbling` (p99 of the delay beyond the watermark of 200 ms"),
        "{report}"
    );
    // `run` prints it too, last.
    let summary = markdown::summary(&fixture());
    assert!(
        summary
            .trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("verdict: `tumbling`")),
        "{summary}"
    );
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

#[test]
fn a_job_an_engine_cannot_run_is_named_with_the_reason_not_left_out_silently() {
    let mut results = fixture();
    assert!(!markdown::report(&results).contains("Not run"));
    results.skipped.push(streambench_reports::results::Skipped {
        label: "fraud on flink".into(),
        reason: "no per-event rule".into(),
    });
    for text in [markdown::report(&results), markdown::summary(&results)] {
        assert!(
            text.contains("Not run, because the engine cannot run the job faithfully: `fraud on flink` (no per-event rule)."),
            "{text}"
        );
    }
}

#[test]
fn a_storm_of_kills_is_one_row_with_the_spread_of_its_recoveries() {
    let mut results = fixture();
    let killed = results
        .scenarios
        .iter_mut()
        .find(|r| !r.recovery.is_empty())
        .expect("a killed scenario");
    let first = killed.recovery[0].clone();
    // 100 kills, two seconds apart; the engine restarted 1.5 s after the odd
    // ones and 0.5 s after the even ones, so each of the 50 even kills struck
    // 0.5 s after the restart from the one before. It was back from 99 kills,
    // after 0.1 s to 9.9 s.
    killed.recovery = (1..=100)
        .map(|i| streambench_reports::results::Recovery {
            killed_at_s: 2.0 * i as f64,
            restarted_at_s: 2.0 * i as f64 + if i % 2 == 1 { 1.5 } else { 0.5 },
            recovery_s: (i < 100).then_some(i as f64 / 10.0),
            ..first.clone()
        })
        .collect();
    let summary = markdown::summary(&results);
    let rows: Vec<Vec<&str>> = summary
        .lines()
        .filter(|l| l.contains("kill@2s"))
        .map(|l| l.split('|').map(str::trim).collect())
        .filter(|cells: &Vec<&str>| cells.len() == 15)
        .collect();
    let storm: Vec<&Vec<&str>> = rows.iter().filter(|cells| cells[3] == "100").collect();
    assert_eq!(storm.len(), 1, "{summary}");
    // Nearest rank over the 99 recoveries: p50 is the 50th, p99 the 99th.
    assert_eq!(
        &storm[0][4..10],
        ["2.0", "50", "99 of 100", "5.0", "9.9", "9.9"],
        "{summary}"
    );
}

#[test]
fn a_failed_scenario_is_shown_with_its_whole_error_before_the_verdict() {
    let mut results = fixture();
    results.scenarios[0].error = Some(
        "the engine exited at start (exit status: 1):\nLine two of its log\nCaused by: the reason".into(),
    );
    results.scenarios[0].passed = false;
    let summary = markdown::summary(&results);
    let table_row = summary
        .lines()
        .find(|l| l.contains("ERROR: the engine exited at start"))
        .expect("the scenario's row");
    assert!(
        !table_row.contains("the reason"),
        "the table keeps one line: {table_row}"
    );
    let cause = summary
        .find("    Caused by: the reason")
        .expect("the whole error");
    let failed = summary.find("Scenario 1 (").expect("the failed scenario named");
    assert!(failed < cause, "{summary}");
    if let Some(verdict) = summary.find("verdict:") {
        assert!(cause < verdict, "the verdict stays last: {summary}");
    }
}

#[test]
fn every_row_carries_events_per_core_the_inverse_of_cpu_per_event() {
    let mut results = fixture();
    results.scenarios[0].resources.engine_cpu_s_per_million_events = 4.0;
    results.scenarios[1].resources.engine_cpu_s_per_million_events = 0.0;
    let summary = markdown::summary(&results);
    let cells = |n: &str| -> Vec<String> {
        summary
            .lines()
            .find(|l| l.starts_with(&format!("| {n:>3} |")))
            .unwrap_or_else(|| panic!("row {n}: {summary}"))
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    // 4 CPU seconds per million events: 250,000 events per CPU second.
    assert_eq!(cells("1")[9], "250000", "{summary}");
    // No CPU measured: no figure rather than infinity.
    assert_eq!(cells("2")[9], "-", "{summary}");
    assert_eq!(
        results.scenarios[0].resources.events_per_core_s(),
        Some(250_000.0)
    );
}

#[test]
fn a_replayed_run_names_its_file_in_place_of_the_seed() {
    let mut results = fixture();
    let generated = markdown::report(&results);
    assert!(generated.contains("| seed "), "a generated run shows its seed");
    results.context.replayed_from = Some("samples/payments.jsonl, sent at the suite's rate".into());
    let replayed = markdown::report(&results);
    assert!(
        replayed.contains("| events      | replayed from samples/payments.jsonl, sent at the suite's rate"),
        "{replayed}"
    );
    assert!(
        !replayed.contains("| seed "),
        "the seed draws nothing in a replay"
    );
}
