//! The engine of one scenario as a child process: started (pinned away from
//! the harness where the machine allows), signalled, restarted, and read
//! from outside through its metrics file and its log.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use streambench_engines::metrics::MetricsSnapshot;
use tokio::process::Child;

/// A running engine process.
pub struct EngineProcess {
    /// The process.
    pub child: Child,
    args: Vec<String>,
    log: PathBuf,
    metrics_file: PathBuf,
    /// Where this process's lines start in the metrics file: a restarted
    /// engine appends its own, counting from zero again.
    metrics_from: u64,
    /// When this process started.
    pub started: Instant,
}

impl EngineProcess {
    /// Starts `binary` with `args`, its output appended to `log`; it writes
    /// its metrics lines to `metrics_file`.
    pub fn start(
        binary: &Path,
        args: &[String],
        log: &Path,
        metrics_file: &Path,
    ) -> anyhow::Result<EngineProcess> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let metrics_from = std::fs::metadata(metrics_file).map_or(0, |m| m.len());
        let child = super::pinning::Pinning::for_this_machine()
            .engine_command(binary)
            .args(args)
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the engine {}", binary.display()))?;
        Ok(EngineProcess {
            child,
            args: args.to_vec(),
            log: log.to_path_buf(),
            metrics_file: metrics_file.to_path_buf(),
            metrics_from,
            started: Instant::now(),
        })
    }

    /// The same engine started again, as after a crash.
    pub fn restart(&self, binary: &Path) -> anyhow::Result<EngineProcess> {
        EngineProcess::start(binary, &self.args, &self.log, &self.metrics_file)
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        let pid = self.child.id().context("the engine has already exited")?;
        kill(Pid::from_raw(pid as i32), signal).with_context(|| format!("cannot send {signal} to the engine"))
    }

    /// The process id (0 once it has exited).
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// The last lines of its log, for error messages.
    pub fn log_tail(&self) -> String {
        crate::stack::process::log_tail(&self.log, 8)
    }

    /// Waits until this process has written its first metrics line (it is
    /// then running the job, with its signal handlers in place), failing if
    /// it exits first or `within` passes. A restarted engine told to stop
    /// before that would die of the signal instead of draining.
    pub async fn wait_until_reporting(&mut self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while self.last_metrics().is_none() {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("the restarted engine exited ({status}):\n{}", self.log_tail());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the restarted engine wrote no metrics line within {} s:\n{}",
                within.as_secs(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// The last metrics line this process wrote, if it wrote one yet.
    pub fn last_metrics(&self) -> Option<MetricsSnapshot> {
        let text = std::fs::read(&self.metrics_file).ok()?;
        let own = text.get(self.metrics_from as usize..)?;
        String::from_utf8_lossy(own)
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
    }
}
