//! The table printed at the end of a run.

use super::results::Results;
use super::search::Verdict;
use super::spread::Spread;

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
    for r in results
        .scenarios
        .iter()
        .filter_map(|r| Some((r, r.recovery.as_ref()?)))
    {
        let (result, recovery) = r;
        out.push_str(&format!(
            "{:>3}  killed at {:.0} s, restarted at {:.0} s, lag back to {} records {}\n",
            result.scenario.number,
            recovery.killed_at_s,
            recovery.restarted_at_s,
            recovery.lag_before_records,
            recovery
                .recovery_s
                .map_or("not within the run".to_string(), |s| format!(
                    "{s:.0} s after the restart"
                )),
        ));
    }
    if results
        .groups
        .iter()
        .any(|g| g.runs > 1 || g.sustained_per_s.is_some())
    {
        out.push_str(&groups_table(results));
    }
    for search in &results.searches {
        let trials: Vec<String> = search
            .outcome
            .trials
            .iter()
            .map(|t| {
                let mark = match &t.verdict {
                    Verdict::Sustained => "ok",
                    Verdict::NotSustained { .. } => "behind",
                    Verdict::GeneratorBound { .. } => "generator-bound",
                };
                format!("{:.0} {mark}", t.offered_per_s)
            })
            .collect();
        out.push_str(&format!(
            "search {}: sustained {}/s ({})\n",
            search.label,
            search
                .outcome
                .sustained_per_s
                .map_or("none".into(), |r| format!("{r:.0}")),
            trials.join(", ")
        ));
    }
    out
}

/// Median [min-max] per setting over its repetitions.
fn groups_table(results: &Results) -> String {
    let spread = |s: Option<Spread>| {
        s.map_or("-".to_string(), |s| {
            format!("{:.0} [{:.0}-{:.0}]", s.median, s.min, s.max)
        })
    };
    let mut out = format!(
        "\nmedian [min-max] over repetitions\n{:<52} {:>4} {:>22} {:>22} {:>24} {:>22}\n",
        "setting", "runs", "p50 ms", "p99 ms", "engine/s", "sustained/s"
    );
    for g in &results.groups {
        out.push_str(&format!(
            "{:<52} {:>4} {:>22} {:>22} {:>24} {:>22}\n",
            g.label,
            g.runs,
            spread(g.p50_ms),
            spread(g.p99_ms),
            spread(g.engine_records_per_s),
            spread(g.sustained_per_s)
        ));
        if let Some(cost) = &g.against_checkpoints_off {
            let ratio = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.3}"));
            let ms = |d: Option<f64>| d.map_or("-".into(), |d| format!("{d:+.0} ms"));
            out.push_str(&format!(
                "      against checkpoints off: throughput x{}, CPU per event x{}, p50 {}, p99 {}\n",
                ratio(cost.throughput_ratio),
                ratio(cost.cpu_ratio),
                ms(cost.p50_difference_ms),
                ms(cost.p99_difference_ms)
            ));
        }
    }
    out
}
