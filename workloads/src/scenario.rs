//! A scenario: one run of one job on one engine under one set of
//! settings, and the expansion of a suite's matrix into them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::delivery::DeliveryMode;
use crate::engine::EngineName;
use crate::format::Format;
use crate::generator::WorkloadSpec;
use crate::invalid::Invalid;
use crate::job::JobSpec;
use crate::rate::RateProfile;
use crate::suite::{FaultCondition, FaultPlan, Part, Suite};

/// One value of an engine setting, as a suite writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
    /// `true` or `false`.
    Switch(bool),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction.
    Number(f64),
    /// Text (`"update"`, `"off"`, a URL).
    Text(String),
}

impl std::fmt::Display for SettingValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingValue::Switch(b) => write!(f, "{b}"),
            SettingValue::Integer(n) => write!(f, "{n}"),
            SettingValue::Number(x) => write!(f, "{x}"),
            SettingValue::Text(t) => f.write_str(t),
        }
    }
}

/// An engine's settings for one scenario, by name (`parallelism`).
pub type Settings = BTreeMap<String, SettingValue>;

/// One run of one job on one engine under one set of settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Position in the suite, from 1.
    pub number: usize,
    /// The job, with the suite's overrides (and the swept watermark delay).
    pub job: JobSpec,
    /// The watermark delay of this scenario when the suite sweeps it
    /// (`matrix.watermark_delay_ms`); the job carries it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_delay_ms: Option<i64>,
    /// The engine.
    pub engine: EngineName,
    /// Whether the engine runs batches started by a trigger (its interval
    /// is the trigger's) rather than checkpointing a running pipeline.
    #[serde(default)]
    pub triggered: bool,
    /// The delivery mode.
    pub delivery: DeliveryMode,
    /// The workload, with this scenario's rate.
    pub workload: WorkloadSpec,
    /// Continuous engine: checkpoint interval (`None`: off).
    pub checkpoint_interval_ms: Option<u64>,
    /// Micro-batch engine: trigger interval.
    pub trigger_interval_ms: Option<u64>,
    /// The engine's other settings, from the suite's `[settings.<engine>]`
    /// (empty: the engine's defaults).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: Settings,
    /// The fault injected.
    pub fault: FaultPlan,
    /// Which repetition, from 1.
    pub repetition: u32,
    /// Seconds left out of the figures when its `[[also]]` table sets its
    /// own (else the suite's `[measure]` warm-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_up_s: Option<f64>,
}

impl Scenario {
    /// Whether some of its events can be late for its job: the workload's
    /// late events, or out-of-order ones lagging by the watermark delay or
    /// more (as the oracle judges them).
    pub fn may_have_late_events(&self) -> bool {
        let w = &self.workload;
        if w.source.is_some() {
            // A replayed file's disorder is its own: as far as its lines lag.
            return crate::generator::Generator::for_job(w.clone(), &self.job, 0)
                .ok()
                .and_then(|g| g.replay().map(|r| r.largest_lag_ms()))
                .is_none_or(|lag| lag >= self.job.watermark_delay_ms);
        }
        w.late.fraction > 0.0
            || (w.out_of_order.fraction > 0.0 && w.out_of_order.max_delay_ms >= self.job.watermark_delay_ms)
    }

    /// A short label: `ysb continuous upsert 2000/s`, with the checkpoint or
    /// trigger interval when it is not the default (10 s, 1 s) and the
    /// fault when there is one.
    pub fn label(&self) -> String {
        let rate = match &self.workload.rate {
            RateProfile::Constant { events_per_s } => format!("{events_per_s:.0}/s"),
            other => format!("{other:?}"),
        };
        format!("{} {rate}", self.setting_label())
    }

    /// Whether this is `job` on `engine` with `delivery` (any rate,
    /// interval, fault or repetition).
    pub fn is_setting(&self, job: &str, engine: EngineName, delivery: &str) -> bool {
        self.job.name == job && self.engine == engine && self.delivery.as_str() == delivery
    }

    /// The offered rate, if it is constant.
    pub fn constant_rate(&self) -> Option<f64> {
        match self.workload.rate {
            RateProfile::Constant { events_per_s } => Some(events_per_s),
            _ => None,
        }
    }

    /// The label without the rate: what a rate search searches over.
    pub fn setting_label(&self) -> String {
        let (engine, delivery) = (self.engine.as_str(), self.delivery.as_str());
        let mut label = format!("{} {engine} {delivery}", self.job.name);
        if self.workload.format != Format::Json {
            label.push_str(&format!(" {}", self.workload.format));
        }
        let seconds = |ms: u64| format!("{}s", ms as f64 / 1000.0);
        if let Some(delay) = self.watermark_delay_ms {
            label.push_str(&format!(" watermark-{}", seconds(delay.max(0) as u64)));
        }
        // Each interval is named unless it is the engines' default (10 s
        // between checkpoints, 1 s between batches).
        match (
            self.triggered || self.trigger_interval_ms.is_some(),
            self.checkpoint_interval_ms,
            self.trigger_interval_ms,
        ) {
            (false, None, _) => label.push_str(" checkpoints-off"),
            (false, Some(ms), _) if ms != 10_000 => label.push_str(&format!(" checkpoint-{}", seconds(ms))),
            (true, _, None) => label.push_str(" trigger-off"),
            (true, _, Some(ms)) if ms != 1_000 => label.push_str(&format!(" trigger-{}", seconds(ms))),
            _ => {}
        }
        for (name, value) in &self.settings {
            label.push_str(&format!(" {name}={value}"));
        }
        let after = |condition: &Option<FaultCondition>| {
            condition.map_or(String::new(), |c| format!("-{}", c.label()))
        };
        match &self.fault {
            FaultPlan::None => {}
            FaultPlan::Kill { at_s, after: a, .. } => label.push_str(&format!(" kill@{at_s}s{}", after(a))),
            FaultPlan::Kills { times, seed, .. } => label.push_str(&format!(" kill-x{times}-seed{seed}")),
            FaultPlan::Pause {
                at_s,
                after: a,
                duration_s,
            } => label.push_str(&format!(" pause@{at_s}s{}+{duration_s}s", after(a))),
            FaultPlan::BrokerOutage {
                at_s,
                after: a,
                duration_s,
            } => label.push_str(&format!(" broker-down@{at_s}s{}+{duration_s}s", after(a))),
            FaultPlan::DatabaseRestart {
                at_s,
                after: a,
                duration_s,
            } => label.push_str(&format!(" database-down@{at_s}s{}+{duration_s}s", after(a))),
            FaultPlan::BrokerCrash {
                at_s,
                after: a,
                restart_after_s,
            } => label.push_str(&format!(" broker-crash@{at_s}s{}+{restart_after_s}s", after(a))),
            FaultPlan::DatabaseCrash {
                at_s,
                after: a,
                restart_after_s,
            } => label.push_str(&format!(" database-crash@{at_s}s{}+{restart_after_s}s", after(a))),
        }
        label
    }
}

/// Every scenario of `suite`, in a stable order: its `[matrix]` then each
/// `[[also]]` table; within one, job, watermark delay, engine, delivery,
/// rate, interval, the engine's settings, fault, repetition.
pub fn expand(suite: &Suite) -> Result<Vec<Scenario>, Invalid> {
    let mut scenarios = Vec::new();
    for part in suite.parts()? {
        for mut scenario in expand_part(suite, &part)? {
            scenario.number = scenarios.len() + 1;
            scenarios.push(scenario);
        }
    }
    Ok(scenarios)
}

/// The scenarios of one of `suite`'s matrices, numbered from 1.
fn expand_part(suite: &Suite, part: &Part) -> Result<Vec<Scenario>, Invalid> {
    let m = &part.matrix;
    let workloads = workloads_of(suite, part);
    let mut scenarios = Vec::new();
    for (job, watermark_delay_ms) in suite.job_variants(m)? {
        for &engine in &m.engines {
            let profile = suite.profile(engine);
            let intervals = suite.intervals_of(engine, m);
            let settings = suite.settings_of(engine);
            for &delivery in m.delivery.iter().filter(|&&d| profile.offers(d)) {
                for workload in &workloads {
                    for &(checkpoint_interval_ms, trigger_interval_ms) in &intervals {
                        if delivery == DeliveryMode::Transactional
                            && !profile.triggered
                            && checkpoint_interval_ms.is_none()
                        {
                            // Transactional delivery commits per checkpoint: no checkpoints, no scenario.
                            continue;
                        }
                        for setting in &settings {
                            for fault in &m.faults {
                                for repetition in 1..=m.repetitions {
                                    scenarios.push(Scenario {
                                        number: scenarios.len() + 1,
                                        job: job.clone(),
                                        watermark_delay_ms,
                                        engine,
                                        triggered: profile.triggered,
                                        delivery,
                                        workload: workload.clone(),
                                        checkpoint_interval_ms,
                                        trigger_interval_ms,
                                        settings: setting.clone(),
                                        fault: fault.clone(),
                                        repetition,
                                        warm_up_s: part.warm_up_s,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(scenarios)
}

/// The workloads `part` runs each setting on: one per rate and format of
/// its matrix (the suite's own where the matrix lists none), for as long
/// as the part says.
fn workloads_of(suite: &Suite, part: &Part) -> Vec<WorkloadSpec> {
    let m = &part.matrix;
    let own = &suite.workload;
    let rates = match m.rates.is_empty() {
        true => std::slice::from_ref(&own.rate),
        false => &m.rates,
    };
    let formats = match m.formats.is_empty() {
        true => std::slice::from_ref(&own.format),
        false => &m.formats,
    };
    let mut workloads = Vec::new();
    for rate in rates {
        for &format in formats {
            workloads.push(WorkloadSpec {
                rate: rate.clone(),
                format,
                duration_s: part.duration_s.unwrap_or(own.duration_s),
                ..own.clone()
            });
        }
    }
    workloads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quickstart_matrix_is_two_jobs_on_two_engines() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/suites/quickstart.toml");
        let suite =
            Suite::from_file(std::path::Path::new(path), &crate::engine::examples()).expect("quickstart");
        let scenarios = expand(&suite).expect("expand");
        let labels: Vec<String> = scenarios.iter().map(Scenario::label).collect();
        assert_eq!(
            labels,
            vec![
                "fraud continuous upsert 2000/s",
                "fraud microbatch upsert 2000/s",
                "tumbling continuous upsert 2000/s",
                "tumbling microbatch upsert 2000/s",
            ]
        );
        assert_eq!(scenarios[0].checkpoint_interval_ms, Some(10_000));
        assert_eq!(scenarios[1].trigger_interval_ms, Some(1_000));
        assert!(scenarios.iter().enumerate().all(|(i, s)| s.number == i + 1));
    }

    #[test]
    fn every_list_multiplies_and_transactional_needs_checkpoints() {
        let suite = Suite::parse(
            r#"
            name = "m"
            [workload]
            duration_s = 1
            [matrix]
            jobs = ["tumbling"]
            engines = ["continuous", "microbatch"]
            delivery = ["upsert", "transactional"]
            rates = [{ kind = "constant", events_per_s = 100 }, { kind = "constant", events_per_s = 200 }]
            checkpoint_interval_ms = [1000]
            trigger_interval_ms = [500, 1000]
            repetitions = 3
            "#,
            "inline",
            &crate::engine::examples(),
        )
        .expect("suite");
        // continuous: 2 deliveries x 2 rates x 1 interval; micro-batch: 2 x 2 x 2; all x 3.
        assert_eq!(expand(&suite).expect("expand").len(), (4 + 8) * 3);
    }

    #[test]
    fn each_format_of_the_matrix_is_a_workload_of_its_own_named_in_the_label() {
        let suite = Suite::parse(
            r#"
            name = "f"
            [workload]
            format = "avro"
            [matrix]
            jobs = ["tumbling"]
            engines = ["continuous"]
            rates = [{ kind = "constant", events_per_s = 100 }, { kind = "constant", events_per_s = 200 }]
            [[also]]
            formats = ["json", "avro"]
            rates = [{ kind = "constant", events_per_s = 300 }]
            "#,
            "inline",
            &crate::engine::examples(),
        )
        .expect("suite");
        let scenarios = expand(&suite).expect("expand");
        let labels: Vec<String> = scenarios.iter().map(Scenario::label).collect();
        assert_eq!(
            labels,
            [
                "tumbling continuous upsert avro 100/s",
                "tumbling continuous upsert avro 200/s",
                "tumbling continuous upsert 300/s",
                "tumbling continuous upsert avro 300/s",
            ]
        );
        let formats: Vec<Format> = scenarios.iter().map(|s| s.workload.format).collect();
        assert_eq!(formats, [Format::Avro, Format::Avro, Format::Json, Format::Avro]);
    }

    #[test]
    fn a_swept_watermark_is_in_the_job_and_the_label() {
        let suite = Suite::parse(
            r#"
            name = "w"
            [matrix]
            jobs = ["tumbling"]
            engines = ["continuous"]
            watermark_delay_ms = [500, 5000]
            "#,
            "inline",
            &crate::engine::examples(),
        )
        .expect("suite");
        let scenarios = expand(&suite).expect("expand");
        let labels: Vec<String> = scenarios.iter().map(Scenario::label).collect();
        assert_eq!(
            labels,
            [
                "tumbling continuous upsert watermark-0.5s 10000/s",
                "tumbling continuous upsert watermark-5s 10000/s",
            ]
        );
        assert_eq!(scenarios[0].job.watermark_delay_ms, 500);
        assert_eq!(scenarios[1].watermark_delay_ms, Some(5000));
    }

    #[test]
    fn an_engine_setting_list_is_an_axis_of_that_engine_only() {
        let suite = Suite::parse(
            r#"
            name = "m"
            [matrix]
            jobs = ["tumbling"]
            engines = ["continuous", "microbatch"]
            [settings.continuous]
            parallelism = [1, 2]
            watermark_interval_ms = 100
            "#,
            "inline",
            &crate::engine::examples(),
        )
        .expect("suite");
        let labels: Vec<String> = expand(&suite)
            .expect("expand")
            .iter()
            .map(Scenario::label)
            .collect();
        assert_eq!(
            labels,
            vec![
                "tumbling continuous upsert parallelism=1 watermark_interval_ms=100 10000/s",
                "tumbling continuous upsert parallelism=2 watermark_interval_ms=100 10000/s",
                "tumbling microbatch upsert 10000/s",
            ]
        );
    }

    #[test]
    fn an_also_table_adds_its_scenarios_after_the_matrix_with_its_own_lengths() {
        let suite = Suite::parse(
            r#"
            name = "m"
            [workload]
            duration_s = 20
            [matrix]
            jobs = ["alerts", "tumbling"]
            engines = ["continuous", "microbatch"]
            trigger_interval_ms = [100, 1000]
            [settings.spark]
            trigger_interval_ms = "off"
            [[also]]
            engines = ["spark"]
            duration_s = 30
            warm_up_s = 12
            [[also]]
            jobs = ["tumbling"]
            engines = ["continuous"]
            watermark_delay_ms = [1000]
            "#,
            "inline",
            &crate::engine::examples(),
        )
        .expect("suite");
        let scenarios = expand(&suite).expect("expand");
        let labels: Vec<String> = scenarios.iter().map(Scenario::label).collect();
        assert_eq!(
            labels[6..],
            [
                "alerts spark upsert trigger-off 10000/s",
                "tumbling spark upsert trigger-off 10000/s",
                "tumbling continuous upsert watermark-1s 10000/s",
            ]
        );
        assert!(scenarios.iter().enumerate().all(|(i, s)| s.number == i + 1));
        let lengths: Vec<(f64, Option<f64>)> = scenarios
            .iter()
            .map(|s| (s.workload.duration_s, s.warm_up_s))
            .collect();
        assert_eq!(lengths[5], (20.0, None));
        assert_eq!(lengths[6], (30.0, Some(12.0)));
        assert_eq!(lengths[8], (20.0, None));
    }

    #[test]
    fn a_bad_also_table_is_refused_naming_the_table() {
        for (extra, needle) in [
            ("enignes = [\"spark\"]", "unknown field `enignes`"),
            ("warm_up_s = -1", "warm_up_s"),
            ("duration_s = \"long\"", "duration_s must be a number"),
            ("repetitions = 0", "repetitions must be at least 1"),
        ] {
            let text = format!(
                "name = \"m\"\n[matrix]\njobs = [\"tumbling\"]\nengines = [\"continuous\"]\n[[also]]\n{extra}\n"
            );
            let message = Suite::parse(&text, "bad.toml", &crate::engine::examples())
                .expect_err(extra)
                .to_string();
            assert!(
                message.contains("bad.toml")
                    && message.contains("[[also]] table 1")
                    && message.contains(needle),
                "{extra}: {message}"
            );
        }
    }
}
