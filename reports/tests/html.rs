//! The HTML report of fixed results files: it parses (as XML, stricter than
//! a browser), holds one SVG per chart the run calls for, each with its
//! title, axis labels and legend, and fetches nothing from anywhere.
//!
//! Fixtures: `tiny-run` (the harness's test suite: both engines, with and
//! without a kill), `search-run` (two rate searches from a run of
//! `throughput.toml`) and `checkpoint-run` (a run of `checkpoint.toml`),
//! all measured on this project's development machine.

use streambench_reports::html;
use streambench_reports::results::Results;

fn fixture(name: &str) -> Results {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("results")
}

/// Parses the report and checks what every report must hold; returns the
/// figure captions in order.
fn check_report(results: &Results) -> Vec<String> {
    let text = html::report(results).expect("report");
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let document =
        roxmltree::Document::parse_with_options(&text, options).expect("the report is well-formed");

    // Self-contained: no attribute loads anything, links stay in the page,
    // the CSS imports nothing, and the only URL is the SVG namespace.
    for node in document.descendants() {
        for attribute in node.attributes() {
            assert_ne!(
                attribute.name(),
                "src",
                "{} loads {}",
                node.tag_name().name(),
                attribute.value()
            );
            if attribute.name() == "href" {
                assert!(
                    attribute.value().starts_with('#'),
                    "link out of the page: {}",
                    attribute.value()
                );
            }
        }
    }
    for forbidden in ["<script", "<link", "<img", "<iframe", "url(", "@import"] {
        assert!(!text.contains(forbidden), "the report contains {forbidden}");
    }
    assert_eq!(
        text.matches("http").count(),
        text.matches("http://www.w3.org/2000/svg").count(),
        "a URL other than the SVG namespace"
    );

    // One SVG per figure, each titled, with axis labels and a legend.
    let figures: Vec<roxmltree::Node> = document
        .descendants()
        .filter(|n| n.has_tag_name("figure"))
        .collect();
    let svgs = document
        .descendants()
        .filter(|n| n.tag_name().name() == "svg")
        .count();
    assert_eq!(svgs, figures.len(), "one SVG per figure");
    let titles = html::figure_titles(results);
    assert_eq!(figures.len(), titles.len());
    let mut captions = Vec::new();
    for (figure, title) in figures.iter().zip(&titles) {
        let svg_text: Vec<&str> = figure
            .descendants()
            .filter(|n| n.tag_name().name() == "text")
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        assert!(
            svg_text.contains(&title.as_str()),
            "{title}: no title in the chart"
        );
        // Axis labels carry a unit, or say what the categories are.
        let axis_labels = svg_text
            .iter()
            .filter(|t| {
                t.contains("(") || **t == "percentile" || t.contains("mode") || t.contains("interval")
            })
            .count();
        assert!(axis_labels >= 2, "{title}: axis labels missing in {svg_text:?}");
        let caption = figure
            .descendants()
            .find(|n| n.has_tag_name("figcaption"))
            .and_then(|n| n.text())
            .expect("a caption");
        assert!(caption.ends_with(title.as_str()), "{caption} is not {title}");
        captions.push(title.clone());
    }
    captions
}

#[test]
fn a_run_with_kills_has_percentiles_lag_latency_and_duplicates() {
    let results = fixture("tiny-run");
    let titles = check_report(&results);
    assert_eq!(
        titles,
        [
            "Frontier: tumbling, rate against p99 delay beyond the watermark",
            "Latency percentiles: tumbling",
            "Lag over time: #2 tumbling continuous upsert checkpoint-0.5s kill@2s 2000/s",
            "Latency over time: #2 tumbling continuous upsert checkpoint-0.5s kill@2s 2000/s",
            "Lag over time: #4 tumbling microbatch upsert trigger-0.25s kill@2s 2000/s",
            "Latency over time: #4 tumbling microbatch upsert trigger-0.25s kill@2s 2000/s",
            "Duplicates and losses after 2 kills or outages, per delivery mode",
        ]
    );
    // The kill and the restart are marked on the charts over time.
    let text = html::report(&results).expect("report");
    assert_eq!(
        text.matches("engine killed").count(),
        4,
        "one legend entry per chart over time"
    );
    assert_eq!(text.matches("engine restarted").count(), 4);
}

#[test]
fn a_rate_search_has_throughput_against_offered_with_the_sustained_points() {
    let results = fixture("search-run");
    let titles = check_report(&results);
    assert!(
        titles.contains(&"Throughput against offered rate: tumbling".to_string()),
        "{titles:?}"
    );
    let text = html::report(&results).expect("report");
    for legend in [
        "continuous upsert: highest sustained",
        "microbatch upsert: highest sustained",
        "read = offered",
        // The frontier: the choices nothing beats, and the verdict's targets.
        "Pareto front",
        "targets: 10 ms, 100 ms, 1 s, 10 s",
    ] {
        assert!(text.contains(legend), "{legend} missing");
    }
    // Lag over time is drawn for a rate each engine kept up with, not for
    // one it fell behind at.
    for title in titles.iter().filter(|t| t.starts_with("Lag over time")) {
        let number: usize = title["Lag over time: #".len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("scenario number");
        let trial = results
            .searches
            .iter()
            .flat_map(|s| &s.outcome.trials)
            .find(|t| t.scenario == number)
            .expect("a trial");
        assert_eq!(
            trial.verdict,
            streambench_reports::results::Verdict::Sustained,
            "{title}"
        );
    }
}

#[test]
fn a_checkpoint_run_has_the_overhead_per_interval() {
    let results = fixture("checkpoint-run");
    let titles = check_report(&results);
    for title in [
        "Checkpoint overhead: CPU per event (continuous engine)",
        "Checkpoint overhead: p99 latency (continuous engine)",
    ] {
        assert!(
            titles.contains(&title.to_string()),
            "{title} missing from {titles:?}"
        );
    }
    assert!(
        !titles.iter().any(|t| t.starts_with("Duplicates")),
        "no kills, no duplicates chart"
    );
    let text = html::report(&results).expect("report");
    for category in ["off", "every 1 s", "every 10 s"] {
        assert!(
            text.lines().any(|l| l.trim() == category),
            "interval {category} missing"
        );
    }
}
