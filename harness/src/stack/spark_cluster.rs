//! A standalone Spark cluster on this machine: one master and one worker,
//! started from PySpark's jars the way Spark's `start-master.sh` and
//! `start-worker.sh` start them, for the `spark` engine to run on with
//! `--master spark://...` as it would on any standalone cluster.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use streambench_engines::external::spark::SparkInstall;

use super::process::{ClusterProcesses, free_loopback_port};

/// A running standalone cluster; dropping it stops it.
pub struct SparkCluster {
    /// The master's URL, what the driver is given as `--master`.
    pub master_url: String,
    /// The master's web UI, whose `/json/` lists the workers.
    pub web_url: String,
    processes: ClusterProcesses,
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
            processes: ClusterProcesses::default(),
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
        cluster.processes.spawn(&mut master, &dir.join("master.log"))?;
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
        cluster.processes.spawn(&mut worker, &dir.join("worker.log"))?;
        cluster
            .processes
            .wait_until("the Spark cluster", Duration::from_secs(90), || {
                cluster.alive_workers() > 0
            })?;
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
