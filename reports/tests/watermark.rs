//! The watermark trade-off on a fixed results file whose first run is
//! copied into a sweep of three delays: every figure in its sentence and
//! table is the run's, a failed or faulted run is left out, and the chart
//! is drawn.

use serde_json::{Value, json};
use streambench_reports::results::Results;
use streambench_reports::watermark;

/// The tiny-run fixture's first run (continuous, no fault) at watermark
/// delays 500, 1000 and 5000 ms, dropping 80, 8 and 0 of its 8,000 events,
/// with p99 event-time latency 700, 1,200 and 5,300 ms; then a fourth run
/// at 200 ms that failed the oracle.
fn sweep() -> Results {
    let path = format!("{}/tests/fixtures/tiny-run.json", env!("CARGO_MANIFEST_DIR"));
    let mut results: Value = serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("json");
    let first = results["scenarios"][0].clone();
    let runs: Vec<Value> = [
        (500, 80, 700.0, true),
        (1000, 8, 1200.0, true),
        (5000, 0, 5300.0, true),
        (200, 300, 400.0, false),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (delay, dropped, p99, passed))| {
        let mut run = first.clone();
        run["scenario"]["number"] = json!(i + 1);
        run["scenario"]["watermark_delay_ms"] = json!(delay);
        run["scenario"]["job"]["watermark_delay_ms"] = json!(delay);
        run["check"]["late_dropped"] = json!(dropped);
        run["check"]["late_events"] = json!(dropped);
        run["passed"] = json!(passed);
        run["event_time_latency"]["percentiles_ms"][2] = json!([99.0, p99]);
        run
    })
    .collect();
    results["scenarios"] = Value::Array(runs);
    results["groups"] = json!([]);
    serde_json::from_value(results).expect("results")
}

#[test]
fn each_delay_is_cited_with_what_it_kept_and_its_latency() {
    let results = sweep();
    let sweeps = watermark::sweeps(&results);
    assert_eq!(sweeps.len(), 1, "{sweeps:#?}");
    let delays: Vec<i64> = sweeps[0].delays.iter().map(|k| k.delay_ms).collect();
    assert_eq!(delays, [500, 1000, 5000], "the failed run at 200 ms is left out");
    assert_eq!(sweeps[0].delays[0].completeness, 1.0 - 80.0 / 8000.0);
    assert_eq!(
        sweeps[0].sentence(),
        "`tumbling` on continuous upsert checkpoint-0.5s at 2,000 events/s: watermark 500 ms keeps 99.00 % of events \
         at p99 700 ms (#1); 1 s keeps 99.90 % at 1.2 s (#2); 5 s keeps 100 % at 5.3 s (#3); \
         the shortest keeping 99.90 % is 1 s."
    );
    let markdown = watermark::markdown(&results);
    assert!(
        markdown.contains("| tumbling | continuous upsert checkpoint-0.5s at 2,000 events/s |"),
        "{markdown}"
    );
    assert!(!markdown.contains("#4"), "{markdown}");
}

#[test]
fn a_run_without_a_sweep_has_no_trade_off_and_a_sweep_has_its_chart() {
    let path = format!("{}/tests/fixtures/tiny-run.json", env!("CARGO_MANIFEST_DIR"));
    let plain: Results = serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("results");
    assert!(watermark::markdown(&plain).is_empty());
    assert!(watermark::figure(&plain, "tumbling").is_none());
    let results = sweep();
    let svg = watermark::figure(&results, "tumbling")
        .expect("a chart")
        .draw()
        .expect("drawn");
    assert!(svg.contains("<svg") && svg.contains("events kept"), "{svg}");
    let html = streambench_reports::html::report(&results).expect("html");
    assert!(html.contains("Watermark trade-off"), "the HTML report shows it");
}
