//! A standalone Flink cluster on this machine: one JobManager and one
//! TaskManager, started from the installed Flink's jars the way Flink's own
//! `start-cluster.sh` starts them, for the `flink` engine to submit to by
//! REST address as it would to any cluster. Its class path leaves out the
//! connectors and the PostgreSQL driver, as a Flink distribution does: the
//! job brings them.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use streambench_engines::external::flink::{FlinkInstall, JVM_OPENS};
use streambench_engines::external::flink_rest::FlinkRest;

use super::process::{ClusterProcesses, free_loopback_port};

/// A running standalone cluster; dropping it stops it.
pub struct FlinkCluster {
    /// Its REST address, what jobs are submitted to.
    pub rest_url: String,
    processes: ClusterProcesses,
}

impl FlinkCluster {
    /// Starts a cluster with `slots` task slots, its configuration and logs in `dir`,
    /// and waits until its TaskManager has registered.
    pub fn start(install: &FlinkInstall, dir: &Path, slots: u32) -> anyhow::Result<FlinkCluster> {
        std::fs::create_dir_all(dir)?;
        let rest_port = free_loopback_port()?;
        let rpc_port = free_loopback_port()?;
        let conf = dir.join("conf");
        std::fs::create_dir_all(&conf)?;
        std::fs::write(conf.join("config.yaml"), config(rest_port, rpc_port, slots))?;
        let class_path = distribution_class_path(install)?;
        let mut cluster = FlinkCluster {
            rest_url: format!("http://127.0.0.1:{rest_port}"),
            processes: ClusterProcesses::default(),
        };
        let mut job_manager = java(install, &class_path);
        job_manager
            .args([
                "-Xmx512m",
                "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
            ])
            .arg("--configDir")
            .arg(&conf);
        cluster
            .processes
            .spawn(&mut job_manager, &dir.join("jobmanager.log"))?;
        // Flink's scripts size the TaskManager's memory with this helper.
        let sizes = Command::new(&install.java)
            .arg("-cp")
            .arg(&class_path)
            .args([
                "org.apache.flink.runtime.util.bash.BashJavaUtils",
                "GET_TM_RESOURCE_PARAMS",
            ])
            .arg("--configDir")
            .arg(&conf)
            .output()
            .context("sizing the Flink TaskManager")?;
        let printed = String::from_utf8_lossy(&sizes.stdout);
        let results: Vec<&str> = printed
            .lines()
            .filter_map(|l| l.strip_prefix("BASH_JAVA_UTILS_EXEC_RESULT:"))
            .collect();
        let [jvm_flags, dynamic_config] = results[..] else {
            anyhow::bail!("sizing the Flink TaskManager failed:\n{printed}");
        };
        let mut task_manager = java(install, &class_path);
        task_manager
            .args(jvm_flags.split_whitespace())
            .arg("org.apache.flink.runtime.taskexecutor.TaskManagerRunner")
            .arg("--configDir")
            .arg(&conf)
            .args(dynamic_config.split_whitespace());
        cluster
            .processes
            .spawn(&mut task_manager, &dir.join("taskmanager.log"))?;
        let rest = FlinkRest::new(&cluster.rest_url);
        cluster
            .processes
            .wait_until("the Flink cluster", Duration::from_secs(90), || {
                rest.task_managers().unwrap_or(0) > 0
            })?;
        Ok(cluster)
    }
}

/// `java` with the module openings Flink needs and `class_path`.
fn java(install: &FlinkInstall, class_path: &str) -> Command {
    let mut command = Command::new(&install.java);
    for open in JVM_OPENS {
        command.arg(format!("--add-opens={open}=ALL-UNNAMED"));
    }
    command.arg("-cp").arg(class_path);
    command
}

/// Flink's own jars: the installed ones less what a job brings.
fn distribution_class_path(install: &FlinkInstall) -> anyhow::Result<String> {
    let mut jars = Vec::new();
    for entry in std::fs::read_dir(&install.libs)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "jar") && !install.connector_jars.contains(&path) {
            jars.push(path.display().to_string());
        }
    }
    jars.sort();
    Ok(jars.join(":"))
}

fn config(rest_port: u16, rpc_port: u16, slots: u32) -> String {
    format!(
        "# Written by streambench: a standalone Flink cluster on the loopback interface.
jobmanager:
  rpc:
    address: 127.0.0.1
    port: {rpc_port}
  bind-host: 127.0.0.1
  memory:
    process:
      size: 1024m
taskmanager:
  bind-host: 127.0.0.1
  host: 127.0.0.1
  numberOfTaskSlots: {slots}
  memory:
    process:
      size: 1280m
metrics:
  fetcher:
    # Metrics reach the REST API every second (the default is 10 s).
    update-interval: 1000
rest:
  address: 127.0.0.1
  bind-address: 127.0.0.1
  port: {rest_port}
"
    )
}
