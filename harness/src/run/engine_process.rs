//! The engine of one scenario as a child process: started (pinned away from
//! the harness where the machine allows), signalled, restarted, and read
//! from outside through its metrics file and its log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use streambench_engines::metrics::MetricsSnapshot;
use tokio::process::Child;

/// How [`EngineProcess::wait_until`] ended.
pub enum Waited {
    /// The metrics line showed what was waited for.
    Held,
    /// The process exited first.
    Exited(std::process::ExitStatus),
    /// The deadline came first; the last metrics line, if there was one.
    TimedOut(Option<MetricsSnapshot>),
}

/// A running engine process.
pub struct EngineProcess {
    /// The process.
    pub child: Child,
    args: Vec<String>,
    env: crate::args::ChildEnv,
    log: PathBuf,
    metrics_file: PathBuf,
    /// Where this process's lines start in the metrics file: a restarted
    /// engine appends its own, counting from zero again.
    metrics_from: u64,
    /// When this process started.
    pub started: Instant,
}

impl EngineProcess {
    /// Starts `binary` with `args` and `env`, its output appended to `log`;
    /// it writes its metrics lines to `metrics_file`.
    pub fn start(
        binary: &Path,
        (args, env): (&[String], &[(String, String)]),
        log: &Path,
        metrics_file: &Path,
    ) -> anyhow::Result<EngineProcess> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        // The command line opens each start's part of the log, so a run can be
        // repeated by hand (the database password left out).
        let shown_env: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("{k}={} ", crate::redact::redact_url(v)))
            .collect();
        let shown: Vec<String> = args.iter().map(|a| crate::redact::redact_url(a)).collect();
        writeln!(
            &file,
            "$ {}{} {}",
            shown_env.concat(),
            binary.display(),
            shown.join(" ")
        )
        .with_context(|| format!("cannot write {}", log.display()))?;
        let metrics_from = std::fs::metadata(metrics_file).map_or(0, |m| m.len());
        let child = super::pinning::Pinning::for_this_machine()
            .engine_command(binary)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the engine {}", binary.display()))?;
        Ok(EngineProcess {
            child,
            args: args.to_vec(),
            env: env.to_vec(),
            log: log.to_path_buf(),
            metrics_file: metrics_file.to_path_buf(),
            metrics_from,
            started: Instant::now(),
        })
    }

    /// The same engine started again, as after a crash.
    pub fn restart(&self, binary: &Path) -> anyhow::Result<EngineProcess> {
        EngineProcess::start(binary, (&self.args, &self.env), &self.log, &self.metrics_file)
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
        match self.wait_until(Instant::now() + within, |_| true).await? {
            Waited::Held => Ok(()),
            Waited::Exited(status) => {
                anyhow::bail!("the restarted engine exited ({status}):\n{}", self.log_tail())
            }
            Waited::TimedOut(_) => anyhow::bail!(
                "the restarted engine wrote no metrics line within {} s:\n{}",
                within.as_secs(),
                self.log_tail()
            ),
        }
    }

    /// Waits until this process's last metrics line `holds`, it exits, or
    /// `deadline` passes, checking ten times a second.
    pub async fn wait_until(
        &mut self,
        deadline: Instant,
        holds: impl Fn(&MetricsSnapshot) -> bool,
    ) -> anyhow::Result<Waited> {
        loop {
            let last = self.last_metrics();
            if last.as_ref().is_some_and(&holds) {
                return Ok(Waited::Held);
            }
            if let Some(status) = self.child.try_wait()? {
                return Ok(Waited::Exited(status));
            }
            if Instant::now() >= deadline {
                return Ok(Waited::TimedOut(last));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the engine has created its result table `table` in
    /// `postgres` (it is then reading), or fails with the engine's own
    /// words if it exited.
    pub async fn wait_until_ready(&mut self, postgres: &str, table: &str) -> anyhow::Result<()> {
        let client = streambench_engines::sink::connect(postgres).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.fail_if_exited("at start")?;
            let row = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
                .await?;
            if row.get::<_, bool>(0) {
                // The table exists once the sink is connected; give the source its
                // assignment, and make sure the engine did not fail on it.
                tokio::time::sleep(Duration::from_millis(500)).await;
                return self.fail_if_exited("at start");
            }
            if Instant::now() > deadline {
                anyhow::bail!("the engine did not start within 60 s:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn fail_if_exited(&mut self, when: &str) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => anyhow::bail!("the engine exited {when} ({status}):\n{}", self.log_tail()),
            None => Ok(()),
        }
    }

    /// Stops the engine as Flink's `stop --drain` does (SIGTERM: it reads to
    /// the topic's end, writes every window and exits), and waits `within`
    /// for it to exit successfully; SIGKILL if it does not.
    pub async fn drain(&mut self, within: Duration) -> anyhow::Result<()> {
        self.signal(Signal::SIGTERM)?;
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => anyhow::bail!("the engine failed ({status}):\n{}", self.log_tail()),
            Ok(Err(e)) => anyhow::bail!("cannot wait for the engine: {e}"),
            Err(_) => {
                let _ = self.signal(Signal::SIGKILL);
                anyhow::bail!(
                    "the engine did not stop within {} s of SIGTERM:\n{}",
                    within.as_secs(),
                    self.log_tail()
                )
            }
        }
    }

    /// The last metrics line this process wrote, if it wrote one yet.
    pub fn last_metrics(&self) -> Option<MetricsSnapshot> {
        MetricsSnapshot::read_last(&self.metrics_file, self.metrics_from)
    }
}
