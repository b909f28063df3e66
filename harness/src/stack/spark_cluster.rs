//! A standalone Spark cluster on this machine: one master and one worker,
//! started from PySpark's jars the way Spark's `start-master.sh` and
//! `start-worker.sh` start them, for the `spark` engine to run on with
//! `--master spark://...` as it would on any standalone cluster.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use streambench_engines::external::spark::SparkInstall;

use super::process::{Tracked, free_loopback_port, log_tail, spawn_detached};

/// A running standalone cluster; dropping it stops it.
pub struct SparkCluster {
    /// The master's URL, what the driver is given as `--master`.
    pub master_url: String,
    /// The master's web UI, whose `/json/` lists the workers.
    pub web_url: String,
    processes: Vec<Tracked>,
}

impl SparkCluster {
    /// Starts a cluster whose worker offers `cores` cores and `memory_mb` of
    /// memory to executors, its logs and work folders in `dir`, and waits
    /// until the worker has registered.
    pub fn start(
        install: &SparkInstall,
        dir: &Path,
        cores: u32,
        memory_mb: u32,
    ) -> anyhow::Result<SparkCluster> {
        std::fs::create_dir_all(dir)?;
        let home = &install.spark_home;
        let (port, web_port) = (free_loopback_port()?, free_loopback_port()?);
        let mut cluster = SparkCluster {
            master_url: format!("spark://127.0.0.1:{port}"),
            web_url: format!("http://127.0.0.1:{web_port}"),
            processes: Vec::new(),
        };
        let mut master = java(home, "org.apache.spark.deploy.master.Master");
        master.args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--webui-port",
            &web_port.to_string(),
        ]);
        let master_log = dir.join("master.log");
        cluster.processes.push(spawn_detached(&mut master, &master_log)?);
        let mut worker = java(home, "org.apache.spark.deploy.worker.Worker");
        worker
            .args(["--host", "127.0.0.1", "--webui-port", "0"])
            .args([
                "--cores",
                &cores.to_string(),
                "--memory",
                &format!("{memory_mb}m"),
            ])
            .arg("--work-dir")
            .arg(dir.join("work"))
            .arg(&cluster.master_url);
        let worker_log = dir.join("worker.log");
        cluster.processes.push(spawn_detached(&mut worker, &worker_log)?);

        let deadline = Instant::now() + Duration::from_secs(90);
        while cluster.alive_workers() == 0 {
            if let Some((process, log)) = cluster
                .processes
                .iter()
                .zip([&master_log, &worker_log])
                .find(|(p, _)| !p.is_running())
            {
                anyhow::bail!(
                    "the Spark cluster's process {} exited at start; the end of {}:\n{}",
                    process.pid,
                    log.display(),
                    log_tail(log, 30)
                );
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "the Spark worker did not register within 90 s; see {}",
                    dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(cluster)
    }

    /// The master's state, as its web UI gives it (null while it does not answer).
    fn state(&self) -> serde_json::Value {
        ureq::get(&format!("{}/json/", self.web_url))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json().ok())
            .unwrap_or_default()
    }

    /// Workers the master counts as alive.
    fn alive_workers(&self) -> u64 {
        self.state()["aliveworkers"].as_u64().unwrap_or(0)
    }

    /// Applications (drivers) that ran or run on the cluster.
    pub fn applications(&self) -> usize {
        let state = self.state();
        ["activeapps", "completedapps"]
            .iter()
            .map(|k| state[*k].as_array().map_or(0, Vec::len))
            .sum()
    }

    /// Stops the worker, then the master.
    pub fn stop(&mut self) {
        for process in self.processes.drain(..).rev() {
            process.stop(Signal::SIGTERM, Duration::from_secs(10));
        }
    }
}

impl Drop for SparkCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `java` running Spark's `class` from the Spark home `home` (PySpark's folder).
fn java(home: &Path, class: &str) -> Command {
    let mut command = Command::new("java");
    command
        .env("SPARK_HOME", home)
        // Spark's launcher, which the worker starts executors with, reads the
        // Scala version from a source build unless it is given (Spark 4 is 2.13 only).
        .env("SPARK_SCALA_VERSION", "2.13")
        .arg("-Xmx256m")
        .arg("-cp")
        .arg(format!("{}/jars/*", home.display()))
        .arg(class);
    command
}
