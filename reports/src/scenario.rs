//! A scenario: one run of one job on one engine under one set of
//! settings, as a suite's matrix expands into them.

use serde::{Deserialize, Serialize};
use streambench_workloads::generator::WorkloadSpec;
use streambench_workloads::job::JobSpec;
use streambench_workloads::rate::RateProfile;
use streambench_workloads::suite::{DeliveryMode, EngineName, FaultPlan};

/// One run of one job on one engine under one set of settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Position in the suite, from 1.
    pub number: usize,
    /// The job, with the suite's overrides.
    pub job: JobSpec,
    /// The engine.
    pub engine: EngineName,
    /// The delivery mode.
    pub delivery: DeliveryMode,
    /// The workload, with this scenario's rate.
    pub workload: WorkloadSpec,
    /// Continuous engine: checkpoint interval (`None`: off).
    pub checkpoint_interval_ms: Option<u64>,
    /// Micro-batch engine: trigger interval.
    pub trigger_interval_ms: Option<u64>,
    /// The fault injected.
    pub fault: FaultPlan,
    /// Which repetition, from 1.
    pub repetition: u32,
}

impl Scenario {
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
        let seconds = |ms: u64| format!("{}s", ms as f64 / 1000.0);
        match (self.engine, self.checkpoint_interval_ms, self.trigger_interval_ms) {
            (EngineName::Continuous, None, _) => label.push_str(" checkpoints-off"),
            (EngineName::Continuous, Some(ms), _) if ms != 10_000 => {
                label.push_str(&format!(" checkpoint-{}", seconds(ms)))
            }
            (EngineName::Microbatch, _, Some(ms)) if ms != 1_000 => {
                label.push_str(&format!(" trigger-{}", seconds(ms)))
            }
            _ => {}
        }
        let after = |condition: &Option<streambench_workloads::suite::FaultCondition>| {
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
        }
        label
    }
}
