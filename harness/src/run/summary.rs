//! The table printed at the end of a run.

use super::results::Results;

/// One line per scenario: latency, throughput and the oracle's verdict.
pub fn summary_table(results: &Results) -> String {
    let mut out = format!(
        "{:>3}  {:<42} {:>9} {:>9} {:>9} {:>11} {:>11}  {}\n",
        "#", "scenario", "p50 ms", "p99 ms", "max ms", "offered/s", "engine/s", "oracle"
    );
    for r in &results.scenarios {
        let latency = &r.event_time_latency;
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        let verdict = match (&r.error, r.passed) {
            (Some(e), _) => format!("ERROR: {}", e.lines().next().unwrap_or_default()),
            (None, true) if r.check.duplicate_rows > 0 => {
                format!("exact, {} duplicate rows (at least once)", r.check.duplicate_rows)
            }
            (None, true) => "exact".to_string(),
            (None, false) => format!(
                "WRONG: {} wrong, {} missing, {} unexpected, {} duplicates, {} lost",
                r.check.wrong_value,
                r.check.missing,
                r.check.unexpected,
                r.check.duplicate_rows,
                r.check.lost_events
            ),
        };
        out.push_str(&format!(
            "{:>3}  {:<42} {:>9} {:>9} {:>9} {:>11.0} {:>11.0}  {}\n",
            r.scenario.number,
            r.scenario.label(),
            ms(latency.at(50.0)),
            ms(latency.at(99.0)),
            if latency.count > 0 {
                format!("{:.0}", latency.max_ms)
            } else {
                "-".into()
            },
            r.offered_per_s,
            r.engine_records_per_s,
            verdict
        ));
    }
    out
}
