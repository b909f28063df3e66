//! A suite read and expanded into its scenarios, with every engine setting
//! it gives checked by that engine before anything starts: a misspelt or
//! inapplicable setting is refused with the file, line and column.

use std::path::Path;

use streambench_engines::registry;
pub use streambench_reports::results::Skipped;
use streambench_workloads::format::Format;
use streambench_workloads::scenario::{Scenario, Settings, expand};
use streambench_workloads::suite::Suite;

/// What a suite runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The suite as read.
    pub suite: Suite,
    /// Its scenarios, in order.
    pub scenarios: Vec<Scenario>,
    /// Scenarios of its matrix that an engine cannot run, with its reason.
    pub skipped: Vec<Skipped>,
}

/// The suite at `path`, its scenarios, and the ones left out because their
/// engine cannot run their job.
pub fn plan(path: &Path) -> anyhow::Result<Plan> {
    let suite = Suite::from_file(path, &registry::profiles())?;
    check_settings(&suite, path)?;
    let expanded = expand(&suite).map_err(|e| anyhow::anyhow!("suite {}: {e}", path.display()))?;
    let (scenarios, skipped) = leave_out(expanded, why_not);
    Ok(Plan {
        suite,
        scenarios,
        skipped,
    })
}

/// Why `scenario` cannot be run faithfully, if it cannot: its engine cannot
/// run its job or read its records, or would drop late events silently that
/// the check must see.
fn why_not(scenario: &Scenario) -> Option<String> {
    let engine = scenario.engine;
    let entry = registry::engine(engine);
    let unread = || entry.profile().cannot_read(scenario.workload.format);
    entry.cannot_run(&scenario.job).or_else(unread).or_else(|| {
        let unseen = !scenario.job.window.is_per_event()
            && !entry.profile().reports_late_window_events
            && scenario.may_have_late_events();
        unseen.then(|| {
            format!(
                "{} drops a windowed job's late events without a side output, and at watermark {} ms \
                 this workload has events that can be late: the check would count them as lost",
                engine.as_str(),
                scenario.job.watermark_delay_ms
            )
        })
    })
}

/// `expanded` without the scenarios `cannot_run` gives a reason for,
/// renumbered, and those left out (once per job, engine and format) with the reason.
fn leave_out(
    expanded: Vec<Scenario>,
    cannot_run: impl Fn(&Scenario) -> Option<String>,
) -> (Vec<Scenario>, Vec<Skipped>) {
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut scenarios = Vec::new();
    for scenario in expanded {
        match cannot_run(&scenario) {
            Some(reason) => {
                let mut label = format!("{} on {}", scenario.job.name, scenario.engine.as_str());
                if scenario.workload.format != Format::Json {
                    label.push_str(&format!(" in {}", scenario.workload.format));
                }
                if !skipped.iter().any(|s| s.label == label) {
                    skipped.push(Skipped { label, reason });
                }
            }
            None => scenarios.push(Scenario {
                number: scenarios.len() + 1,
                ..scenario
            }),
        }
    }
    (scenarios, skipped)
}

/// Asks each engine whether it takes each value of each of its settings.
fn check_settings(suite: &Suite, path: &Path) -> anyhow::Result<()> {
    for (&engine, settings) in &suite.settings {
        for (name, axis) in settings {
            for value in axis.get_ref().values() {
                let one = Settings::from([(name.clone(), value)]);
                if let Err(reason) = registry::engine(engine).settings_flags(&one) {
                    anyhow::bail!(
                        "suite {}: [settings.{}] {name} ({}): {reason}",
                        path.display(),
                        engine.as_str(),
                        suite.setting_place(engine, name)
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite_file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), text).expect("write");
        file
    }

    #[test]
    fn a_setting_an_engine_does_not_take_is_named_with_its_place() {
        for (setting, needle) in [
            ("paralelism = [1, 2]", "unknown field `paralelism`"),
            ("parallelism = \"two\"", "invalid type"),
            ("output_mode = \"update\"", "unknown field `output_mode`"),
        ] {
            let file = suite_file(&format!(
                "name = \"s\"\n[matrix]\njobs = [\"tumbling\"]\nengines = [\"continuous\"]\n\n[settings.continuous]\n{setting}\n"
            ));
            let message = format!("{:#}", plan(file.path()).expect_err(setting));
            assert!(message.contains(needle), "{message}");
            assert!(message.contains("line 7, column"), "{message}");
            assert!(message.contains(&file.path().display().to_string()), "{message}");
        }
    }

    #[test]
    fn a_job_an_engine_cannot_run_is_skipped_with_its_reason_and_the_rest_renumbered() {
        let file = suite_file(
            "name = \"s\"\n[matrix]\njobs = [\"fraud\", \"tumbling\"]\nengines = [\"flink\", \"continuous\"]\n",
        );
        let plan = plan(file.path()).expect("plan");
        assert_eq!(plan.scenarios.len(), 4, "every engine runs every catalogue job");
        // An engine that could not run fraud (as Flink and Spark once could not).
        let refuse = |s: &Scenario| {
            (s.job.name == "fraud" && s.engine.as_str() == "flink").then(|| "no per-key rule".to_string())
        };
        let (scenarios, skipped) = leave_out(plan.scenarios, refuse);
        let labels: Vec<&str> = skipped.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["fraud on flink"]);
        assert_eq!(skipped[0].reason, "no per-key rule");
        assert_eq!(scenarios.len(), 3);
        assert!(scenarios.iter().enumerate().all(|(i, s)| s.number == i + 1));
        assert!(
            !scenarios
                .iter()
                .any(|s| s.job.name == "fraud" && s.engine.as_str() == "flink")
        );
    }

    #[test]
    fn a_peer_that_would_drop_late_events_unseen_is_skipped_up_front() {
        let file = suite_file(
            "name = \"s\"\n[workload.out_of_order]\nfraction = 0.1\nmax_delay_ms = 3000\n\
             [matrix]\njobs = [\"tumbling\", \"alerts\"]\nengines = [\"spark\", \"continuous\"]\n\
             watermark_delay_ms = [1000, 5000]\n",
        );
        let plan = plan(file.path()).expect("plan");
        let labels: Vec<String> = plan.scenarios.iter().map(Scenario::label).collect();
        assert!(
            !labels
                .iter()
                .any(|l| l.starts_with("tumbling spark") && l.contains("watermark-1s")),
            "{labels:?}"
        );
        for kept in [
            "tumbling spark upsert watermark-5s",
            "tumbling continuous upsert watermark-1s",
            "alerts spark upsert watermark-1s",
        ] {
            assert!(labels.iter().any(|l| l.starts_with(kept)), "{kept}: {labels:?}");
        }
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].label, "tumbling on spark");
        assert!(
            plan.skipped[0].reason.contains("without a side output"),
            "{:?}",
            plan.skipped
        );
    }

    #[test]
    fn a_format_an_engine_does_not_read_is_skipped_for_it_alone() {
        let file = suite_file(
            "name = \"s\"\n[matrix]\njobs = [\"tumbling\"]\nengines = [\"flink\", \"continuous\", \"microbatch\"]\n\
             formats = [\"json\", \"avro\"]\n",
        );
        let plan = plan(file.path()).expect("plan");
        let labels: Vec<String> = plan.scenarios.iter().map(Scenario::label).collect();
        assert_eq!(labels.len(), 5, "{labels:?}");
        assert!(
            labels.iter().any(|l| l.starts_with("tumbling flink upsert")),
            "{labels:?}"
        );
        assert!(
            !labels.iter().any(|l| l.starts_with("tumbling flink upsert avro")),
            "{labels:?}"
        );
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].label, "tumbling on flink in avro");
        assert!(
            plan.skipped[0].reason.contains("reads json records only"),
            "{:?}",
            plan.skipped
        );
    }

    #[test]
    fn every_engine_setting_of_a_shipped_suite_is_taken() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../workloads/suites");
        for entry in std::fs::read_dir(dir).expect("the suites folder") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                plan(&path).unwrap_or_else(|e| panic!("{e:#}"));
            }
        }
    }
}
