//! CPU pinning: on a machine with four or more usable CPUs, engines run on
//! all but the first, which is left to the harness and its generator, so
//! the two do not take CPU from each other. With fewer, pinning would leave
//! an engine too little to be measured fairly, so nothing is pinned; the
//! results say which it was. Engines are started through util-linux's
//! `taskset`, so every thread they ever start is on those CPUs; without
//! `taskset`, nothing is pinned.

use nix::sched::{CpuSet, sched_getaffinity};
use nix::unistd::Pid;

/// Fewest usable CPUs at which engines are pinned.
pub const MIN_CPUS_TO_PIN: usize = 4;

/// Which CPUs engines get.
#[derive(Debug, Clone)]
pub struct Pinning {
    usable: Vec<usize>,
    engine: Option<Vec<usize>>,
}

impl Pinning {
    /// The pinning this machine allows, worked out once per process (it
    /// asks the kernel and runs `taskset`).
    pub fn for_this_machine() -> &'static Pinning {
        static PINNING: std::sync::OnceLock<Pinning> = std::sync::OnceLock::new();
        PINNING.get_or_init(Pinning::detect)
    }

    fn detect() -> Pinning {
        let usable: Vec<usize> = sched_getaffinity(Pid::from_raw(0))
            .map(|set| {
                (0..CpuSet::count())
                    .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
                    .collect()
            })
            .unwrap_or_default();
        let taskset = std::process::Command::new("taskset")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        let engine = (taskset && usable.len() >= MIN_CPUS_TO_PIN).then(|| usable[1..].to_vec());
        Pinning { usable, engine }
    }

    /// For the results: what was pinned where.
    pub fn describe(&self) -> String {
        match &self.engine {
            Some(engine) => format!(
                "engines on CPUs {engine:?}; CPU {} left to the harness and generator",
                self.usable[0]
            ),
            None => format!(
                "none: {} usable CPUs (engines are pinned from {MIN_CPUS_TO_PIN}, with taskset)",
                self.usable.len()
            ),
        }
    }

    /// A command that starts `binary` on the engines' CPUs, if they are pinned.
    pub fn engine_command(&self, binary: &std::path::Path) -> tokio::process::Command {
        let Some(engine) = &self.engine else {
            return tokio::process::Command::new(binary);
        };
        let cpus: Vec<String> = engine.iter().map(|cpu| cpu.to_string()).collect();
        let mut command = tokio::process::Command::new("taskset");
        // taskset execs the engine in its own process: signals reach the engine.
        command.args(["--cpu-list", &cpus.join(",")]).arg(binary);
        command
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_matches_the_machine() {
        let pinning = Pinning::for_this_machine();
        assert!(!pinning.usable.is_empty());
        let text = pinning.describe();
        match &pinning.engine {
            Some(engine) => {
                assert!(pinning.usable.len() >= MIN_CPUS_TO_PIN);
                assert!(!engine.contains(&pinning.usable[0]), "{text}");
                assert!(text.starts_with("engines on CPUs"), "{text}");
            }
            None => assert!(text.starts_with("none:"), "{text}"),
        }
    }
}
