//! The faults a scenario injects while the generator sends: kills, seeded
//! kills, pauses, and the local stack's broker or database stopped or
//! crashed (SIGKILL, then recovery from what is on disk). Each
//! strikes at its moment or, when the suite says `after`, once the engine's
//! metrics file shows what it asks (a completed checkpoint, records read,
//! caught up): a kill meant to test a restore then tests one on a slow
//! machine as on a fast one, and a condition that never comes fails the
//! scenario at its deadline, naming the condition.

use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;
use streambench_engines::metrics::MetricsSnapshot;
use streambench_workloads::generator::Generator;
use streambench_workloads::scenario::Scenario;
use streambench_workloads::suite::{FaultCondition, FaultPlan};

use super::engine_process::{EngineProcess, Waited};
use super::runner::RunConfig;
use super::sampler::Sampler;
use crate::produce::BackgroundProduce;

/// A metrics line older than this is no evidence of how far behind the
/// engine is now (engines write one a second).
const FRESH_LINE_S: f64 = 1.5;

/// What the faults did, in seconds since the generator started.
#[derive(Debug, Default)]
pub struct Interruptions {
    /// Restarts of the engine after kills.
    pub restarts: u32,
    /// Per fault that struck: when the engine (or service) went down, and
    /// when it was back.
    pub moments: Vec<(f64, f64)>,
}

/// Where the faults of one scenario strike.
pub struct FaultTarget<'a> {
    /// The run's settings (the binary to restart, the local stack).
    pub config: &'a RunConfig,
    /// The scenario, with its fault plan and workload.
    pub scenario: &'a Scenario,
    /// When the generator started.
    pub generator_started: Instant,
    /// The same moment, in ms since the epoch (the metrics lines' clock).
    pub generator_started_ms: i64,
    /// The lag sampler, told of restarts.
    pub sampler: &'a Sampler,
    /// The generator, for when each record is due.
    pub schedule: &'a Generator,
}

impl FaultTarget<'_> {
    /// Strikes every fault of the plan while `produce` sends; a strike
    /// whose moment comes after the generator has finished is not made
    /// (its condition, once the moment has come, is waited for even then).
    pub async fn strike_all(
        &self,
        engine: &mut EngineProcess,
        produce: &mut BackgroundProduce,
        report: &mut impl FnMut(&'static str),
    ) -> anyhow::Result<Interruptions> {
        let plan = &self.scenario.fault;
        let mut done = Interruptions::default();
        for (at_s, after) in plan.strikes(self.scenario.workload.duration_s) {
            let due = self.generator_started + Duration::from_secs_f64(at_s);
            if !produce.still_sending_at(due).await && Instant::now() < due {
                break;
            }
            if let Some(condition) = after {
                report("awaiting the fault's condition");
                self.wait_for(&condition, engine).await?;
            }
            let moment = self.strike(plan, engine, report).await?;
            done.moments.push(moment);
            if matches!(plan, FaultPlan::Kill { .. } | FaultPlan::Kills { .. }) {
                done.restarts += 1;
            }
            report("generating");
        }
        Ok(done)
    }

    /// Seconds since the generator started.
    fn now_s(&self) -> f64 {
        self.generator_started.elapsed().as_secs_f64()
    }

    /// One strike of `plan`: returns when the engine or service went down
    /// and when it was back.
    async fn strike(
        &self,
        plan: &FaultPlan,
        engine: &mut EngineProcess,
        report: &mut impl FnMut(&'static str),
    ) -> anyhow::Result<(f64, f64)> {
        if let Some(fault) = ServiceFault::of(plan) {
            return self.strike_service(fault, report).await;
        }
        match *plan {
            FaultPlan::Kill { restart_after_s, .. } | FaultPlan::Kills { restart_after_s, .. } => {
                report("killed");
                let killed_at_s = self.now_s();
                engine.signal(Signal::SIGKILL)?;
                engine.child.wait().await?;
                tokio::time::sleep(Duration::from_secs_f64(restart_after_s)).await;
                *engine = engine.restart(&self.config.binary)?;
                self.sampler.engine_restarted(engine.pid());
                Ok((killed_at_s, self.now_s()))
            }
            FaultPlan::Pause { duration_s, .. } => {
                report("paused");
                let paused_at_s = self.now_s();
                engine.signal(Signal::SIGSTOP)?;
                tokio::time::sleep(Duration::from_secs_f64(duration_s)).await;
                engine.signal(Signal::SIGCONT)?;
                Ok((paused_at_s, self.now_s()))
            }
            // The service faults struck above.
            FaultPlan::None
            | FaultPlan::BrokerOutage { .. }
            | FaultPlan::DatabaseRestart { .. }
            | FaultPlan::BrokerCrash { .. }
            | FaultPlan::DatabaseCrash { .. } => Ok((self.now_s(), self.now_s())),
        }
    }

    /// Waits until the engine process running now has done what `condition`
    /// asks, failing if it exits first or the deadline passes.
    async fn wait_for(&self, condition: &FaultCondition, engine: &mut EngineProcess) -> anyhow::Result<()> {
        let deadline = engine.started + Duration::from_secs_f64(condition.within_s);
        match engine
            .wait_until(deadline, |line| self.holds(condition, line))
            .await?
        {
            Waited::Held => Ok(()),
            Waited::Exited(status) => anyhow::bail!(
                "the engine exited ({status}) before the fault's condition held ({}):\n{}",
                condition.describe(),
                engine.log_tail()
            ),
            Waited::TimedOut(last) => {
                let said = last.map_or("no metrics line yet".to_string(), |s| {
                    format!(
                        "{} checkpoints, {} records read, at {} of {} records",
                        s.checkpoints,
                        s.records_read,
                        s.read_position,
                        self.schedule.len()
                    )
                });
                anyhow::bail!(
                    "the fault waited for the engine to reach {} and it did not within {} s of the \
                     engine's start (its last metrics line: {said}):\n{}",
                    condition.describe(),
                    condition.within_s,
                    engine.log_tail()
                )
            }
        }
    }

    /// Whether the metrics line `line` shows `condition` met.
    fn holds(&self, condition: &FaultCondition, line: &MetricsSnapshot) -> bool {
        let caught_up = condition.behind_at_most_s.is_none_or(|most| {
            let line_s = (line.at_ms - self.generator_started_ms) as f64 / 1000.0;
            // Before the generator starts, nothing is due: that is not reading live.
            line_s > 0.0
                && self.now_s() - line_s <= FRESH_LINE_S
                && self.schedule.seconds_behind(line_s, line.read_position) <= most
        });
        line.checkpoints >= condition.checkpoints && line.records_read >= condition.records_read && caught_up
    }

    /// Takes the broker or the database of the local stack down (stopped
    /// or crashed), waits, and starts it again; returns when it went down
    /// and when it answered again.
    async fn strike_service(
        &self,
        fault: ServiceFault,
        report: &mut impl FnMut(&'static str),
    ) -> anyhow::Result<(f64, f64)> {
        let home = self.config.stack_home.clone().context(
            "this fault stops a service, so it needs the local stack: run without --brokers and --postgres",
        )?;
        report(fault.going_down());
        let down_at_s = self.now_s();
        let down_home = home.clone();
        let was_running = tokio::task::spawn_blocking(move || fault.take_down(&down_home)).await??;
        anyhow::ensure!(
            was_running,
            "the local stack's service was not running, so the fault could not stop it"
        );
        tokio::time::sleep(Duration::from_secs_f64(fault.down_s)).await;
        report(fault.coming_back());
        match fault.service {
            Service::Broker => {
                crate::stack::kafka::up(&home).await?;
            }
            Service::Database => {
                crate::stack::postgres::up(&home).await?;
            }
        }
        Ok((down_at_s, self.now_s()))
    }
}

/// A service of the local stack a fault takes down.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Service {
    Broker,
    Database,
}

/// A fault on a service: which, whether it is crashed (SIGKILL) or stopped
/// cleanly, and for how long it stays down.
#[derive(Debug, Clone, Copy)]
struct ServiceFault {
    service: Service,
    crash: bool,
    down_s: f64,
}

impl ServiceFault {
    /// The service fault `plan` is, if it is one.
    fn of(plan: &FaultPlan) -> Option<ServiceFault> {
        let (service, crash, down_s) = match *plan {
            FaultPlan::BrokerOutage { duration_s, .. } => (Service::Broker, false, duration_s),
            FaultPlan::DatabaseRestart { duration_s, .. } => (Service::Database, false, duration_s),
            FaultPlan::BrokerCrash { restart_after_s, .. } => (Service::Broker, true, restart_after_s),
            FaultPlan::DatabaseCrash { restart_after_s, .. } => (Service::Database, true, restart_after_s),
            _ => return None,
        };
        Some(ServiceFault {
            service,
            crash,
            down_s,
        })
    }

    /// Stops or crashes the service; whether it was running.
    fn take_down(self, home: &crate::home::Home) -> anyhow::Result<bool> {
        use crate::stack::{kafka, postgres};
        match (self.service, self.crash) {
            (Service::Broker, false) => kafka::down(home),
            (Service::Broker, true) => kafka::crash(home),
            (Service::Database, false) => postgres::down(home),
            (Service::Database, true) => postgres::crash(home),
        }
    }

    /// The progress word while it goes down.
    fn going_down(self) -> &'static str {
        match (self.service, self.crash) {
            (Service::Broker, false) => "broker down",
            (Service::Broker, true) => "broker killed",
            (Service::Database, false) => "database down",
            (Service::Database, true) => "database killed",
        }
    }

    /// The progress word while it starts again.
    fn coming_back(self) -> &'static str {
        match self.service {
            Service::Broker => "broker starting",
            Service::Database => "database starting",
        }
    }
}
