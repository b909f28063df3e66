//! `streambench engine <name>`: one subcommand per entry of the engine
//! registry, each with the flags every engine takes ([`EngineArgs`],
//! [`ServiceArgs`]) and the engine's own options struct. The harness starts
//! engines through this same command, with flags from the same structs, so
//! the two cannot disagree.

use clap::{ArgMatches, Args, FromArgMatches};
use streambench_engines::engine::RunSummary;
use streambench_engines::external::flink::FlinkInstall;
use streambench_engines::external::spark::SparkInstall;
use streambench_engines::registry::{self, ENGINES, Engine, Tools};
use streambench_workloads::engine::EngineName;

use crate::args::{EngineArgs, ServiceArgs};
use crate::home::Home;
use crate::stack;

/// A parsed `streambench engine <name> ...`.
pub struct EngineCommand {
    engine: &'static dyn Engine,
    matches: ArgMatches,
}

impl FromArgMatches for EngineCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<EngineCommand, clap::Error> {
        let (name, sub) = matches
            .subcommand()
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::MissingSubcommand))?;
        let engine = registry::named(name)
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))?;
        Ok(EngineCommand {
            engine,
            matches: sub.clone(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = EngineCommand::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Subcommand for EngineCommand {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        ENGINES.iter().fold(command, |command, engine| {
            // A flag given twice takes its last value, so a caller can add to
            // a full command line (the tests' defaults, then their changes).
            let sub = clap::Command::new(engine.name().as_str()).args_override_self(true);
            let sub = ServiceArgs::augment_args(EngineArgs::augment_args(engine.settings_args(sub)));
            // After the flags: each struct's doc comment would otherwise be the help.
            let sub = sub.about(engine.about()).long_about(None);
            command.subcommand(sub)
        })
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        EngineCommand::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        registry::named(name).is_some()
    }
}

impl EngineCommand {
    /// Runs the engine until it stops, against the services the flags name.
    pub async fn run(&self, home: &Home) -> anyhow::Result<RunSummary> {
        let common = EngineArgs::from_arg_matches(&self.matches)?;
        let services = ServiceArgs::from_arg_matches(&self.matches)?;
        let job = common.job()?;
        let unread = || self.engine.profile().cannot_read(job.workload_format);
        if let Some(reason) = self.engine.cannot_run(&job.job).or_else(unread) {
            anyhow::bail!("{} cannot run job {}: {reason}", self.engine.name(), job.job.name);
        }
        let resolved = stack::resolve_answering(home, &services.endpoints(), stack::Needs::BOTH).await?;
        let job = common.job_run(job, home, self.engine.name().as_str(), &resolved);
        Ok(self.engine.run(job, &self.matches, &InstalledTools(home)).await?)
    }
}

/// Installs what each of `engines` runs with, if it is missing, from the
/// home's tools folder (Flink's and Spark's downloads, on first use).
pub fn install_engines(home: &Home, engines: &[EngineName]) -> anyhow::Result<()> {
    for &engine in engines {
        tokio::task::block_in_place(|| registry::engine(engine).install(&InstalledTools(home)))?;
    }
    Ok(())
}

/// Flink and Spark from the home's tools folder, installed on first use.
struct InstalledTools<'a>(&'a Home);

impl Tools for InstalledTools<'_> {
    fn flink(&self) -> streambench_engines::Result<FlinkInstall> {
        stack::flink::install(self.0.tools_dir()).map_err(|e| tool_failure("flink", e))
    }

    fn spark(&self) -> streambench_engines::Result<SparkInstall> {
        stack::spark::install(self.0.tools_dir()).map_err(|e| tool_failure("spark", e))
    }
}

fn tool_failure(engine: &'static str, error: anyhow::Error) -> streambench_engines::Error {
    streambench_engines::Error::External {
        engine,
        reason: format!("cannot install it: {error:#}"),
    }
}

#[cfg(test)]
mod tests {
    use clap::{FromArgMatches, Subcommand};

    use super::*;

    /// `streambench engine ...` as the binary parses it.
    fn parse(args: &[&str]) -> Result<EngineCommand, clap::Error> {
        let command = EngineCommand::augment_subcommands(clap::Command::new("engine").no_binary_name(true));
        EngineCommand::from_arg_matches(&command.try_get_matches_from(args)?)
    }

    #[test]
    fn every_engine_takes_off_for_its_interval() {
        for engine in ENGINES {
            let name = engine.name();
            let interval = if engine.profile().triggered {
                "--trigger-interval-ms"
            } else {
                "--checkpoint-interval-ms"
            };
            // 5000 ms: Spark's real-time mode takes no shorter batch duration.
            for value in ["off", "5000"] {
                let args = [
                    name.as_str(),
                    "--job",
                    "tumbling",
                    "--table",
                    "t",
                    interval,
                    value,
                ];
                let parsed = parse(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
                assert_eq!(parsed.engine.name(), name);
            }
            assert!(parse(&[name.as_str(), "--job", "tumbling", "--table", "t", interval, "0"]).is_err());
        }
    }

    #[test]
    fn each_engine_is_a_subcommand_with_its_own_help_line() {
        let command = EngineCommand::augment_subcommands(clap::Command::new("engine"));
        for engine in ENGINES {
            let sub = command
                .find_subcommand(engine.name().as_str())
                .unwrap_or_else(|| panic!("no subcommand {}", engine.name().as_str()));
            assert_eq!(
                sub.get_about().map(|a| a.to_string()),
                Some(engine.about().to_string())
            );
        }
    }

    #[test]
    fn a_flag_given_twice_takes_its_last_value() {
        let parsed = parse(&[
            "continuous",
            "--job",
            "ysb",
            "--table",
            "t",
            "--parallelism",
            "1",
            "--parallelism",
            "2",
        ])
        .expect("parses");
        let options = streambench_engines::continuous::ContinuousOptions::from_arg_matches(&parsed.matches)
            .expect("reads");
        assert_eq!(options.parallelism, 2);
    }
}
