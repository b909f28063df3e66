//! Starting services as detached processes and stopping them by pid.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpgid};
use serde::{Deserialize, Serialize};

/// Starts `command` in its own process group, with stdin closed and stdout and
/// stderr appended to `log`, so that it outlives the `streambench` process that
/// started it and ignores its Ctrl-C.
pub fn spawn_detached(command: &mut Command, log: &Path) -> std::io::Result<Tracked> {
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()?;
    Tracked::of(child.id())
        .ok_or_else(|| std::io::Error::other(format!("{:?} exited at once", command.get_program())))
}

/// A process the stack started, named by its pid and its start time (in
/// clock ticks since boot), so that a recycled pid is never taken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    /// The process id.
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat`: when the process started.
    start_ticks: u64,
}

impl Tracked {
    /// The live process `pid`, if there is one.
    pub fn of(pid: u32) -> Option<Tracked> {
        let (state, start_ticks) = read_stat(pid)?;
        (!matches!(state, 'Z' | 'X')).then_some(Tracked { pid, start_ticks })
    }

    /// Whether this very process is still alive (not exited, not a zombie).
    pub fn is_running(&self) -> bool {
        reap_if_child(self.pid);
        matches!(read_stat(self.pid), Some((state, ticks)) if ticks == self.start_ticks && !matches!(state, 'Z' | 'X'))
    }

    /// Sends `signal` and waits up to `grace` for the process to exit, then
    /// kills it. Returns whether it stopped within the grace period.
    pub fn stop(&self, signal: Signal, grace: Duration) -> bool {
        if !self.is_running() {
            return true;
        }
        let target = Pid::from_raw(self.pid as i32);
        let _ = kill(target, signal);
        if self.wait_until_gone(grace) {
            return true;
        }
        let _ = kill(target, Signal::SIGKILL);
        self.wait_until_gone(Duration::from_secs(10));
        false
    }

    /// SIGKILLs the process and, when it leads its own process group (as
    /// every service the stack starts does: Kafka by [`spawn_detached`],
    /// PostgreSQL's postmaster by `pg_ctl`, its server processes with it),
    /// everything in that group: a crash, with no chance to flush or clean
    /// up. Waits up to 10 s until the group is gone. Returns whether the
    /// process was running.
    pub fn crash(&self) -> bool {
        if !self.is_running() {
            return false;
        }
        let leader = Pid::from_raw(self.pid as i32);
        let leads_group = getpgid(Some(leader)) == Ok(leader);
        if leads_group {
            let _ = killpg(leader, Signal::SIGKILL);
        } else {
            let _ = kill(leader, Signal::SIGKILL);
        }
        self.wait_until_gone(Duration::from_secs(10));
        // A process of many threads (a JVM) shows as a zombie before its
        // last thread has exited, and cannot be reaped until then: a child
        // of ours (a service restarted by this run) is waited for, or it
        // would stay a zombie for as long as this process lives.
        reap_child_within(self.pid, Duration::from_secs(10));
        let deadline = Instant::now() + Duration::from_secs(10);
        // Signal 0 to a group answers while any of it is left.
        while leads_group && killpg(leader, None).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    fn wait_until_gone(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.is_running() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }
}

/// The state letter and start time of `pid` from `/proc/PID/stat`.
fn read_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the parenthesised command name (which may hold spaces):
    // state is field 3 of the line, start time field 22.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start_ticks = fields.nth(18)?.parse().ok()?;
    Some((state, start_ticks))
}

/// Stops a recorded service process, if it still runs, with `signal` and a
/// 30 s grace period. Returns whether it was running.
pub fn stop_recorded(name: &str, process: Option<Tracked>, signal: Signal) -> bool {
    let Some(process) = process.filter(Tracked::is_running) else {
        return false;
    };
    if !process.stop(signal, Duration::from_secs(30)) {
        eprintln!(
            "{name} (pid {}) did not stop within 30 s and was killed",
            process.pid
        );
    }
    true
}

/// When this process started `pid` itself (as tests do) and it has exited,
/// collect its exit status so it does not linger as a zombie; a no-op for
/// anyone else's process.
fn reap_if_child(pid: u32) {
    reap_child_within(pid, Duration::ZERO);
}

/// When `pid` is a child of this process, waits up to `limit` for it to
/// exit and collects its status; returns at once for anyone else's process.
fn reap_child_within(pid: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    while let Ok(WaitStatus::StillAlive) = waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG)) {
        if Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_loopback_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether a TCP port on 127.0.0.1 can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs a short command to completion, failing with its output when it fails.
pub fn run_to_completion(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run {what} ({:?}): {e}", command.get_program()))?;
    if !output.status.success() {
        anyhow::bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_process_is_running_until_stopped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("sleep.log");
        let sleeper = spawn_detached(Command::new("sleep").arg("30"), &log).expect("spawn sleep");
        assert!(sleeper.is_running(), "just started");
        assert!(
            sleeper.stop(Signal::SIGTERM, Duration::from_secs(5)),
            "stops on SIGTERM"
        );
        assert!(!sleeper.is_running(), "stopped");
    }

    fn process_log_lines(log: &Path) -> usize {
        std::fs::read_to_string(log).map_or(0, |text| text.lines().count())
    }

    #[test]
    fn a_crashed_child_leaves_no_zombie() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("child.log");
        // Many threads and a gigabyte, as a broker's JVM has: the killed
        // leader is a zombie for a while before it can be reaped.
        let threads = "import threading, time\n\
                       ballast = b'x' * (1 << 30)\n\
                       for _ in range(64): threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n\
                       print('ready', flush=True)\n\
                       time.sleep(60)\n";
        for _ in 0..3 {
            let child =
                spawn_detached(Command::new("python3").args(["-c", threads]), &log).expect("spawn python3");
            let started = std::time::Instant::now();
            while process_log_lines(&log) < 1 && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(child.crash(), "it was running");
            assert_eq!(
                read_stat(child.pid),
                None,
                "pid {} is left as a zombie",
                child.pid
            );
            std::fs::write(&log, "").expect("log emptied");
        }
    }

    #[test]
    fn a_recycled_pid_is_not_taken_for_the_old_process() {
        let mut me = Tracked::of(std::process::id()).expect("this process");
        assert!(me.is_running());
        me.start_ticks += 1;
        assert!(!me.is_running(), "same pid, other start time");
    }
}

/// The processes of a cluster streambench started for the length of a run
/// (a JobManager and a TaskManager, a master and a worker), each with its
/// log; stopped together, last started first, when dropped.
#[derive(Default)]
pub struct ClusterProcesses {
    started: Vec<(Tracked, PathBuf)>,
}

impl ClusterProcesses {
    /// Starts `command` detached, its output in `log`.
    pub fn spawn(&mut self, command: &mut Command, log: &Path) -> std::io::Result<()> {
        let process = spawn_detached(command, log)?;
        self.started.push((process, log.to_path_buf()));
        Ok(())
    }

    /// Waits up to `timeout` until `ready` holds; fails with the log of a
    /// process that exited meanwhile, or after the timeout.
    pub fn wait_until(&self, what: &str, timeout: Duration, ready: impl Fn() -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !ready() {
            if let Some((process, log)) = self.started.iter().find(|(p, _)| !p.is_running()) {
                anyhow::bail!(
                    "{what}: process {} exited at start; the end of {}:\n{}",
                    process.pid,
                    log.display(),
                    log_tail(log, 30)
                );
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = self
                    .started
                    .iter()
                    .map(|(_, l)| l.display().to_string())
                    .collect();
                anyhow::bail!("{what}: not ready after {timeout:?}; see {}", logs.join(" and "));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(())
    }

    /// Stops every process: SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        for (process, _) in self.started.drain(..).rev() {
            process.stop(Signal::SIGTERM, Duration::from_secs(10));
        }
    }
}

impl Drop for ClusterProcesses {
    fn drop(&mut self) {
        self.stop();
    }
}
