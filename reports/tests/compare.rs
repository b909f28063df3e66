//! `compare` flags exactly the figures that moved beyond the noise, in the
//! direction that matters for each.

use streambench_reports::compare::{Movement, compare};
use streambench_reports::results::Results;

fn fixture() -> Results {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-run.json");
    serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("results")
}

#[test]
fn a_run_compared_with_itself_has_no_changes() {
    let base = fixture();
    let comparison = compare(&base, &base, 5.0);
    assert!(!comparison.changes.is_empty());
    assert!(
        comparison
            .changes
            .iter()
            .all(|c| c.movement == Movement::Unchanged)
    );
    assert!(comparison.unmatched.is_empty());
}

#[test]
fn only_moves_beyond_the_noise_are_flagged_with_their_direction() {
    let base = fixture();
    let mut new = base.clone();
    let scale = |s: &mut Option<streambench_reports::results::Spread>, factor: f64| {
        if let Some(s) = s.as_mut() {
            s.median *= factor;
        }
    };
    // Group 0: p99 20 % worse (regression), throughput 3 % lower (noise).
    scale(&mut new.groups[0].p99_ms, 1.2);
    scale(&mut new.groups[0].engine_records_per_s, 0.97);
    // Group 1: p50 30 % better, CPU 10 % higher (regression).
    scale(&mut new.groups[1].p50_ms, 0.7);
    scale(&mut new.groups[1].engine_cpu_s_per_million_events, 1.1);
    // A setting only the new run has.
    let mut extra = new.groups[2].clone();
    extra.label = "sliding continuous upsert 10/s".into();
    new.groups.push(extra);

    let comparison = compare(&base, &new, 5.0);
    let flagged: Vec<(String, &str, Movement)> = comparison
        .changes
        .iter()
        .filter(|c| c.movement != Movement::Unchanged)
        .map(|c| (c.setting.clone(), c.metric, c.movement))
        .collect();
    assert_eq!(
        flagged,
        vec![
            (
                base.groups[0].label.clone(),
                "p99 latency ms",
                Movement::Regressed
            ),
            (base.groups[1].label.clone(), "p50 latency ms", Movement::Improved),
            (
                base.groups[1].label.clone(),
                "CPU s per M events",
                Movement::Regressed
            ),
        ]
    );
    assert_eq!(comparison.regressions().count(), 2);
    assert_eq!(
        comparison.unmatched,
        vec!["sliding continuous upsert 10/s (new)".to_string()]
    );
    let text = comparison.render(5.0);
    assert!(text.starts_with("2 regressed, 1 improved"), "{text}");
    // With a 25 % threshold only the 30 % improvement remains.
    let loose = compare(&base, &new, 25.0);
    assert_eq!(loose.regressions().count(), 0);
}
