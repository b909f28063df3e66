//! The embedded broker: Apache Kafka itself, single node in KRaft mode,
//! installed from Maven Central on first use and run as its own process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::process::{self, Tracked, free_loopback_port, port_is_free, run_to_completion};
use super::{health, maven, state, system};
use crate::home::Home;

/// The Apache Kafka release the local stack installs and runs.
pub const KAFKA_VERSION: &str = "4.1.1";

/// How long a new broker may take to answer its first metadata request.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// What the local stack remembers about its broker between commands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KafkaState {
    /// The client (PLAINTEXT) listener's port on 127.0.0.1.
    pub port: u16,
    /// The KRaft controller listener's port on 127.0.0.1.
    pub controller_port: u16,
    /// The broker process while it runs.
    pub process: Option<Tracked>,
}

impl KafkaState {
    /// The bootstrap address clients use.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether the process recorded here is still running.
    pub fn is_running(&self) -> bool {
        self.process.is_some_and(|p| p.is_running())
    }
}

/// The broker's folder, state file and log under a streambench home.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(home: &Home) -> Layout {
        Layout {
            dir: home.service_dir("kafka"),
        }
    }
    fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    fn log_dirs(&self) -> PathBuf {
        self.dir.join("data")
    }
    fn properties(&self) -> PathBuf {
        self.dir.join("server.properties")
    }
    fn log_file(&self) -> PathBuf {
        self.dir.join("kafka.log")
    }
}

/// The broker's recorded state (ports, pid) under `home`.
pub fn load_state(home: &Home) -> anyhow::Result<KafkaState> {
    state::load(&Layout::new(home).state_file())
}

/// Starts the local broker unless it already runs, installing Kafka first if
/// needed, and waits until it answers. Returns its state.
pub async fn up(home: &Home) -> anyhow::Result<KafkaState> {
    let layout = Layout::new(home);
    std::fs::create_dir_all(&layout.dir)?;
    let mut kafka: KafkaState = state::load(&layout.state_file())?;
    if kafka.is_running() {
        health::kafka_answers(&kafka.brokers(), Duration::from_secs(10)).await?;
        return Ok(kafka);
    }
    let libs = install(home.tools_dir())?;
    if kafka.port == 0 || !port_is_free(kafka.port) {
        kafka.port = free_loopback_port()?;
    }
    if kafka.controller_port == 0
        || kafka.controller_port == kafka.port
        || !port_is_free(kafka.controller_port)
    {
        kafka.controller_port = loop {
            let port = free_loopback_port()?;
            if port != kafka.port {
                break port;
            }
        };
    }
    std::fs::write(layout.properties(), server_properties(&kafka, &layout.log_dirs()))?;
    if !layout.log_dirs().join("meta.properties").exists() {
        format_storage(&libs, &layout)?;
    }
    let mut java = Command::new(java_program()?);
    java.args(["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"])
        .arg("-Djava.awt.headless=true")
        .arg("-cp")
        .arg(classpath(&libs))
        .arg("kafka.Kafka")
        .arg(layout.properties())
        .current_dir(&layout.dir);
    kafka.process = Some(process::spawn_detached(&mut java, &layout.log_file())?);
    state::save(&layout.state_file(), &kafka)?;
    wait_until_ready(&kafka, &layout).await?;
    Ok(kafka)
}

/// Stops the local broker if it runs. Returns whether there was one to stop.
pub fn down(home: &Home) -> anyhow::Result<bool> {
    let layout = Layout::new(home);
    let mut kafka: KafkaState = state::load(&layout.state_file())?;
    // SIGTERM asks Kafka for a controlled shutdown; it flushes its logs first.
    let was_running =
        process::stop_recorded("Kafka", kafka.process.take(), nix::sys::signal::Signal::SIGTERM);
    state::save(&layout.state_file(), &kafka)?;
    Ok(was_running)
}

/// Crashes the local broker if it runs: a SIGKILL, with no controlled
/// shutdown, so its next start recovers its logs uncleanly. Returns whether
/// there was one to kill.
pub fn crash(home: &Home) -> anyhow::Result<bool> {
    let layout = Layout::new(home);
    let mut kafka: KafkaState = state::load(&layout.state_file())?;
    let was_running = kafka.process.take().is_some_and(|p| p.crash());
    state::save(&layout.state_file(), &kafka)?;
    Ok(was_running)
}

async fn wait_until_ready(kafka: &KafkaState, layout: &Layout) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if !kafka.is_running() {
            anyhow::bail!(
                "Kafka exited during start-up; the end of its log ({}):\n{}",
                layout.log_file().display(),
                process::log_tail(&layout.log_file(), 30)
            );
        }
        match health::kafka_answers(&kafka.brokers(), Duration::from_secs(2)).await {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() > START_TIMEOUT => {
                anyhow::bail!(
                    "Kafka did not answer within {START_TIMEOUT:?} ({e}); see {}",
                    layout.log_file().display()
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

fn server_properties(kafka: &KafkaState, log_dirs: &Path) -> String {
    format!(
        "# Written by `streambench stack up`; rewritten at every start.\n\
         process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.voters=1@127.0.0.1:{controller}\n\
         listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
         controller.listener.names=CONTROLLER\n\
         listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
         inter.broker.listener.name=PLAINTEXT\n\
         log.dirs={log_dirs}\n\
         num.partitions=4\n\
         offsets.topic.replication.factor=1\n\
         offsets.topic.num.partitions=8\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         share.coordinator.state.topic.replication.factor=1\n\
         share.coordinator.state.topic.min.isr=1\n\
         group.initial.rebalance.delay.ms=0\n\
         auto.create.topics.enable=false\n\
         delete.topic.enable=true\n\
         log.retention.hours=24\n",
        port = kafka.port,
        controller = kafka.controller_port,
        log_dirs = log_dirs.display(),
    )
}

fn format_storage(libs: &Path, layout: &Layout) -> anyhow::Result<()> {
    let cluster_id = new_cluster_id();
    run_to_completion(
        Command::new(java_program()?)
            .arg("-cp")
            .arg(classpath(libs))
            .args([
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                &cluster_id,
                "-c",
            ])
            .arg(layout.properties()),
        "formatting Kafka's storage",
    )
}

/// A cluster id as `kafka-storage random-uuid` makes one: 16 random bytes in
/// URL-safe base64 without padding.
fn new_cluster_id() -> String {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos()) as u64
        ^ u64::from(std::process::id()).rotate_left(32);
    cluster_id_from(seed)
}

/// The cluster id drawn from `seed`. Like Kafka's `Uuid.randomUuid`, it never
/// starts with `-`, which `kafka-storage format -t` would take for an option.
fn cluster_id_from(mut seed: u64) -> String {
    loop {
        let id = draw_cluster_id(&mut seed);
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn draw_cluster_id(seed: &mut u64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = Vec::with_capacity(22);
    for _ in 0..22 {
        // splitmix64: uniqueness is all that matters here, not unpredictability.
        *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        bits.push(ALPHABET[((z ^ (z >> 31)) % 64) as usize]);
    }
    // The 22nd character carries only 2 significant bits of the 128.
    bits[21] = ALPHABET[(bits[21] as usize % 4) * 16];
    String::from_utf8_lossy(&bits).into_owned()
}

fn classpath(libs: &Path) -> String {
    // The JVM expands a trailing `*` in a class path entry itself: no shell involved.
    format!("{}/*", libs.display())
}

fn java_program() -> anyhow::Result<PathBuf> {
    if let Some(java) = system::which("java") {
        return Ok(java);
    }
    system::install_debian_packages(&["openjdk-17-jre-headless"], "the embedded Kafka broker")?;
    system::which("java").ok_or_else(|| anyhow::anyhow!("java is still not on PATH after installing it"))
}

/// Installs Kafka's jars (and a logging binding) from Maven Central into
/// `tools/kafka-VERSION/libs` unless they are there, and returns that folder.
pub fn install(tools: &Path) -> anyhow::Result<PathBuf> {
    install_jars(tools, "kafka", "kafka_2.13", "the embedded Kafka broker")
}

/// Installs Kafka's command-line tools (`kafka-tools`, whose
/// `ConsumerPerformance` is `kafka-consumer-perf-test`) into
/// `tools/kafka-tools-VERSION/libs` unless they are there, and returns that folder.
pub fn install_tools(tools: &Path) -> anyhow::Result<PathBuf> {
    install_jars(
        tools,
        "kafka-tools",
        "kafka-tools",
        "Kafka's consumer performance tool",
    )
}

/// Runs Kafka's own consumer performance tool (`kafka-consumer-perf-test`)
/// on `topic` as consumer group `group` (a new one reads from the start)
/// until it has read `records`, and returns the seconds it spent fetching
/// them (its `fetch.time.ms`: the run less joining the group), as it
/// reports them. Reading fewer is an error.
pub fn consumer_perf(
    libs: &Path,
    brokers: &str,
    topic: &str,
    group: &str,
    records: u64,
) -> anyhow::Result<f64> {
    let output = Command::new(java_program()?)
        .arg("-cp")
        .arg(classpath(libs))
        .args([
            "org.apache.kafka.tools.ConsumerPerformance",
            "--bootstrap-server",
            brokers,
        ])
        .args(["--topic", topic, "--messages", &records.to_string()])
        .args(["--group", group, "--timeout", "60000"])
        .output()
        .context("running Kafka's consumer performance tool")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "Kafka's consumer performance tool failed: {}{}",
        stdout.trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let (read, seconds) = consumer_perf_result(&stdout)
        .with_context(|| format!("cannot read Kafka's consumer performance tool's output:\n{stdout}"))?;
    anyhow::ensure!(
        read == records,
        "Kafka's consumer performance tool read {read} of the {records} records of {topic}"
    );
    Ok(seconds)
}

/// The records read and the fetch time, in seconds, from
/// `ConsumerPerformance`'s result line: `start.time, end.time,
/// data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
/// rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec`.
fn consumer_perf_result(stdout: &str) -> Option<(u64, f64)> {
    stdout.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 10 {
            return None;
        }
        let records = fields[4].parse().ok()?;
        let fetch_ms: f64 = fields[7].parse().ok()?;
        Some((records, fetch_ms / 1000.0))
    })
}

/// Installs `artifact` of `org.apache.kafka` at [`KAFKA_VERSION`], with its
/// dependencies and a logging binding, into `tools/NAME-VERSION/libs`
/// unless it is there, and returns that folder.
fn install_jars(tools: &Path, name: &str, artifact: &str, what: &str) -> anyhow::Result<PathBuf> {
    let root = tools.join(format!("{name}-{KAFKA_VERSION}"));
    let libs = root.join("libs");
    let complete = root.join(".installed");
    let _installing = super::install_lock(tools, &format!("{name}-{KAFKA_VERSION}"))?;
    if complete.exists() {
        return Ok(libs);
    }
    eprintln!(
        "installing {what} (Apache Kafka {KAFKA_VERSION}) from Maven Central into {} (first use only)...",
        root.display()
    );
    maven::resolve(&root, &kafka_pom(name, artifact), what)?;
    std::fs::write(&complete, KAFKA_VERSION)?;
    Ok(libs)
}

fn kafka_pom(name: &str, artifact: &str) -> String {
    format!(
        r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <!-- Generated by streambench: the jars of Apache Kafka's {artifact}. -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>streambench.local</groupId>
  <artifactId>{name}-runtime</artifactId>
  <version>{KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>{artifact}</artifactId><version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::{cluster_id_from, consumer_perf_result, new_cluster_id};

    #[test]
    fn consumer_perf_result_reads_the_records_and_the_fetch_time() {
        let stdout = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n\
            2026-12-02 07:58:21:283, 2026-12-02 07:58:23:680, 355.0029, 148.1030, 5000000, 2085940.7593, 368, 2029, 174.9645, 2464268.1124\n";
        assert_eq!(consumer_perf_result(stdout), Some((5_000_000, 2.029)));
        assert_eq!(consumer_perf_result("no result here\n"), None);
    }

    #[test]
    fn cluster_id_has_kafkas_shape() {
        let id = new_cluster_id();
        assert_eq!(id.len(), 22);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert!(
            "AQgw".contains(id.chars().last().unwrap_or('?')),
            "last char {id}"
        );
    }

    /// One id in 64 would start with `-` if drawn freely; the storage tool
    /// then reads it as an option and refuses to format.
    #[test]
    fn no_cluster_id_starts_with_a_dash() {
        let ids: Vec<String> = (0..5_000).map(cluster_id_from).collect();
        assert!(ids.iter().all(|id| !id.starts_with('-')));
        assert!(
            ids.iter().any(|id| id.contains('-')),
            "dashes still appear elsewhere"
        );
    }
}
