//! The engine registry: every engine streambench runs, one entry each.
//! An entry says what the engine is called and what it offers (its
//! [`EngineProfile`]: triggered or checkpointed, the delivery modes),
//! which settings it takes (its options struct: flags, suite keys and
//! defaults in one, see [`crate::options`]), the jobs it cannot run, and
//! how it runs a job. Suites are checked against [`profiles`], so nothing
//! outside this crate lists the engines.
//!
//! Adding an engine is two files: its module, with an options struct and
//! an [`Entry`], and `lib.rs`, which declares the module and lists the
//! entry in [`ENGINES`].

use std::future::Future;
use std::pin::Pin;

use streambench_workloads::engine::{EngineName, EngineProfile};
use streambench_workloads::job::JobSpec;
use streambench_workloads::scenario::Settings;

use crate::engine::{JobRun, RunSummary};
use crate::error::{Error, Result};
use crate::external::flink::FlinkInstall;
use crate::external::spark::SparkInstall;
use crate::options::{self, EngineOptions};

/// A running engine: the future of its summary.
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = Result<RunSummary>> + 'a>>;

/// What external engines run with, installed on first use by the caller
/// (the harness knows where the tools folder is and how to fetch them).
pub trait Tools {
    /// Flink with its connectors.
    fn flink(&self) -> Result<FlinkInstall>;
    /// Spark with PySpark and its Kafka connector.
    fn spark(&self) -> Result<SparkInstall>;
}

/// One engine: its name, its settings and how it runs.
pub trait Engine: Sync {
    /// Its name and what it offers.
    fn profile(&self) -> EngineProfile;

    /// Its name in suites, on the command line and in results.
    fn name(&self) -> EngineName {
        self.profile().name
    }

    /// One line for `streambench engine --help`.
    fn about(&self) -> &'static str;

    /// `command` with the engine's own flags added.
    fn settings_args(&self, command: clap::Command) -> clap::Command;

    /// The flags that give `settings` (a suite's, by name), every other
    /// setting at its default; a name it does not take or a value of the
    /// wrong kind is refused with the reason.
    fn settings_flags(&self, settings: &Settings) -> std::result::Result<Vec<String>, String>;

    /// Why the engine cannot run `job` faithfully, if it cannot: a suite
    /// skips that scenario and its report says why.
    fn cannot_run(&self, job: &JobSpec) -> Option<String>;

    /// Runs `job` with the engine's flags as parsed into `matches`.
    fn run<'a>(&'a self, job: JobRun, matches: &'a clap::ArgMatches, tools: &'a dyn Tools) -> RunFuture<'a>;

    /// Installs what the engine runs with, if it is missing: a suite does
    /// this before its first scenario, so no scenario's start waits for a
    /// download.
    fn install(&self, tools: &dyn Tools) -> Result<()>;
}

pub use crate::ENGINES;

/// An engine given by its options struct `O` and a function that runs a
/// job with them: the usual way to meet [`Engine`], in a few lines.
pub struct Entry<O> {
    /// Its name and what it offers.
    pub profile: EngineProfile,
    /// One line for `streambench engine --help`.
    pub about: &'static str,
    /// Why it cannot run a job ([`runs_every_job`] for one that can run any).
    pub cannot_run: fn(&JobSpec) -> Option<String>,
    /// Runs a job with the parsed options.
    pub run: for<'a> fn(JobRun, O, &'a dyn Tools) -> RunFuture<'a>,
    /// Installs what it runs with ([`nothing_to_install`] for streambench's own).
    pub install: fn(&dyn Tools) -> Result<()>,
}

/// [`Entry::cannot_run`] of an engine that runs every catalogue job, and
/// every job a suite declares that the record plan accepts (streambench's
/// own engines compile the plan; see `streambench_workloads::declared_run`).
pub fn runs_every_job(job: &JobSpec) -> Option<String> {
    crate::record::declared_plan(job).err().map(|e| e.to_string())
}

/// [`Entry::install`] of an engine that is part of streambench.
pub fn nothing_to_install(_: &dyn Tools) -> Result<()> {
    Ok(())
}

impl<O: EngineOptions> Engine for Entry<O> {
    fn profile(&self) -> EngineProfile {
        self.profile
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn settings_args(&self, command: clap::Command) -> clap::Command {
        O::augment_args(command)
    }

    fn settings_flags(&self, settings: &Settings) -> std::result::Result<Vec<String>, String> {
        options::from_settings::<O>(settings).map(|o| options::to_args(&o))
    }

    fn cannot_run(&self, job: &JobSpec) -> Option<String> {
        (self.cannot_run)(job)
    }

    fn run<'a>(&'a self, job: JobRun, matches: &'a clap::ArgMatches, tools: &'a dyn Tools) -> RunFuture<'a> {
        let unread = || self.profile.cannot_read(job.workload_format);
        if let Some(reason) = self.cannot_run(&job.job).or_else(unread) {
            let refused = Error::Config(format!(
                "{} cannot run job {}: {reason}",
                self.profile.name.as_str(),
                job.job.name
            ));
            return Box::pin(std::future::ready(Err(refused)));
        }
        match O::from_arg_matches(matches) {
            Ok(options) => (self.run)(job, options, tools),
            Err(e) => Box::pin(std::future::ready(Err(Error::Config(e.to_string())))),
        }
    }

    fn install(&self, tools: &dyn Tools) -> Result<()> {
        (self.install)(tools)
    }
}

/// What every engine offers, for checking suites against.
pub fn profiles() -> Vec<EngineProfile> {
    ENGINES.iter().map(|e| e.profile()).collect()
}

/// The registry's entry for `name`.
pub fn engine(name: EngineName) -> &'static dyn Engine {
    named(name.as_str()).unwrap_or_else(|| panic!("engine {} is not in ENGINES", name.as_str()))
}

/// The registry's entry for the engine spelt `name`, if there is one.
pub fn named(name: &str) -> Option<&'static dyn Engine> {
    ENGINES.iter().copied().find(|e| e.name().as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_name_has_one_entry() {
        let names: Vec<EngineName> = ENGINES.iter().map(|e| e.name()).collect();
        for name in &names {
            assert_eq!(names.iter().filter(|n| *n == name).count(), 1, "{name}");
            assert!(named(name.as_str()).is_some(), "{name}");
        }
        assert!(named("storm").is_none());
    }

    #[test]
    fn every_engine_reads_back_the_flags_its_settings_give() {
        let mut settings = Settings::new();
        for engine in ENGINES {
            let flags = engine.settings_flags(&settings).expect("defaults");
            let command = engine.settings_args(clap::Command::new("engine").no_binary_name(true));
            let matches = command
                .try_get_matches_from(&flags)
                .unwrap_or_else(|e| panic!("{}: {flags:?}: {e}", engine.name().as_str()));
            assert!(matches.ids().count() > 0, "{}", engine.name().as_str());
        }
        settings.insert(
            "no_such_setting".into(),
            streambench_workloads::scenario::SettingValue::Integer(1),
        );
        for engine in ENGINES {
            let refused = engine.settings_flags(&settings).expect_err("an unknown setting");
            assert!(refused.contains("no_such_setting"), "{refused}");
        }
    }
}
