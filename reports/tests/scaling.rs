//! The capacity curve on a fixed results file whose continuous search is
//! copied to parallelism 1, 2 and 4 (and a fourth copy, at 8, that
//! sustained nothing): every figure in its sentence and table is the run's,
//! efficiency is against parallelism 1, and the chart is drawn.

use serde_json::{Value, json};
use streambench_reports::results::Results;
use streambench_reports::scaling;

/// The search-run fixture's continuous search at parallelism 1, 2, 4 and 8,
/// sustaining 200,000 (#4), 336,359 (#7), 366,802 (#8) and nothing.
fn curve() -> Results {
    let path = format!("{}/tests/fixtures/search-run.json", env!("CARGO_MANIFEST_DIR"));
    let mut results: Value = serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("json");
    let search = results["searches"][0].clone();
    let searches: Vec<Value> = [
        (1, Some(200000.0)),
        (4, Some(366802.0)),
        (2, Some(336359.0)),
        (8, None),
    ]
    .into_iter()
    .map(|(n, sustained)| {
        let mut copy = search.clone();
        copy["scenario"]["settings"] = json!({ "parallelism": n });
        copy["outcome"]["sustained_per_s"] = json!(sustained);
        copy
    })
    .collect();
    results["searches"] = Value::Array(searches);
    serde_json::from_value(results).expect("results")
}

#[test]
fn each_parallelism_is_cited_with_its_rate_and_efficiency() {
    let results = curve();
    let curves = scaling::curves(&results);
    assert_eq!(curves.len(), 1, "{curves:#?}");
    let steps: Vec<u32> = curves[0].steps.iter().map(|s| s.parallelism).collect();
    assert_eq!(
        steps,
        [1, 2, 4],
        "sorted, and the search that sustained nothing is left out"
    );
    assert_eq!(
        curves[0].sentence(),
        "`tumbling` on continuous upsert sustains 200,000 events/s at parallelism 1 (#4), \
         336,359 at 2 (efficiency 0.84, #7) and 366,802 at 4 (0.46, #8)."
    );
    let markdown = scaling::markdown(&results);
    let squeezed = markdown.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        squeezed.contains("| tumbling | continuous upsert | 4 | 366,802 | 557000 | 0.46 | #8 |"),
        "{markdown}"
    );
}

#[test]
fn spark_masters_count_their_threads_and_other_runs_have_no_curve() {
    let mut results = curve();
    for (search, master) in results
        .searches
        .iter_mut()
        .zip(["local[1]", "local[4]", "local[*]"])
    {
        search.scenario.settings.clear();
        search.scenario.settings.insert(
            "master".into(),
            streambench_workloads::scenario::SettingValue::Text(master.into()),
        );
    }
    let parallelisms: Vec<Option<u32>> = results
        .searches
        .iter()
        .map(|s| scaling::parallelism(&s.scenario))
        .collect();
    assert_eq!(parallelisms, [Some(1), Some(4), None, Some(8)]);
    let path = format!("{}/tests/fixtures/search-run.json", env!("CARGO_MANIFEST_DIR"));
    let plain: Results = serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("results");
    assert!(scaling::markdown(&plain).is_empty());
    assert!(scaling::figure(&plain, "tumbling").is_none());
}

#[test]
fn the_reports_show_the_curve_and_its_chart() {
    let results = curve();
    let svg = scaling::figure(&results, "tumbling")
        .expect("a chart")
        .draw()
        .expect("drawn");
    assert!(svg.contains("<svg") && svg.contains("parallelism"), "{svg}");
    let html = streambench_reports::html::report(&results).expect("html");
    assert!(
        html.contains("<h3>Scaling</h3>") && html.contains("efficiency 0.84"),
        "the HTML report shows it"
    );
    let markdown = streambench_reports::markdown::report(&results);
    assert!(markdown.contains("## Scaling"), "{markdown}");
}

#[test]
fn a_step_the_generator_bounded_is_a_lower_bound() {
    let mut results = curve();
    results.searches[1].outcome.generator_bound = true;
    let curves = scaling::curves(&results);
    assert!(
        curves[0]
            .sentence()
            .contains("at least 366,802 at 4 (at least 0.46, #8)"),
        "{}",
        curves[0].sentence()
    );
    assert!(scaling::caveat(&results).contains("lower bound"));
    assert!(!scaling::caveat(&curve()).contains("lower bound"));
    assert!(scaling::markdown(&results).contains(">= 366,802"));
    // The generator bounded the rate at 1: the others' efficiencies are upper bounds.
    let mut base_bound = curve();
    base_bound.searches[0].outcome.generator_bound = true;
    let sentence = scaling::curves(&base_bound)[0].sentence();
    assert!(
        sentence.contains("336,359 at 2 (efficiency at most 0.84, #7)"),
        "{sentence}"
    );
    base_bound.searches[1].outcome.generator_bound = true;
    let curves = scaling::curves(&base_bound);
    let at_four = &curves[0].steps[2];
    assert_eq!(curves[0].efficiency(at_four), None, "both bounded: unknown");
}
