//! The checkpoint directory failing under a running engine, on a real file
//! system: a tmpfs filled to the last byte (ENOSPC), and one remounted
//! read-only (EROFS). The engine stops with a clear error, its last good
//! checkpoint stays intact, and once the space is back a restart ends equal
//! to the oracle. Mounting needs root (CAP_SYS_ADMIN), as the CI has.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Input, check_with, exact, finished, services, streambench, unique_name};

/// The generator's rate: 20,000 events take 5 s, so the engine is still
/// reading when its storage breaks.
const RATE: [&str; 2] = ["--rate", "4000"];

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        mount(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            dir.path(),
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn mount(args: &[&str], target: &Path) {
    let output = Command::new("mount")
        .args(args)
        .arg(target)
        .output()
        .expect("run mount");
    assert!(
        output.status.success(),
        "this test mounts a tmpfs and needs root (CAP_SYS_ADMIN): mount {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = file.write_all(&chunk) {
            assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
            break;
        }
    }
    // The last partial chunk may have left a few bytes; take them too.
    while file.write_all(&[0u8]).is_ok() {}
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < timeout,
            "{what} did not happen within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `topic` exists on `brokers` with its partitions.
fn topic_exists(brokers: &str, topic: &str) -> bool {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let Ok(client) = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create::<BaseConsumer>()
    else {
        return false;
    };
    client
        .fetch_metadata(Some(topic), Duration::from_secs(2))
        .is_ok_and(|m| {
            m.topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        })
}

/// Files under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Runs `engine` on a topic the generator fills in real time, breaks the
/// checkpoint storage once the first checkpoint is down, and checks the
/// engine stops saying `expected`; then mends the storage, restarts, and
/// compares with the oracle.
fn storage_fails_then_recovers(
    services: &streambench_harness::stack::Resolved,
    engine: &str,
    first_checkpoint: fn(&Path) -> bool,
    break_storage: fn(&Path),
    mend_storage: fn(&Path),
    expected: &str,
) {
    let storage = Tmpfs::mount("16m");
    let checkpoints = storage.path().join("checkpoints");
    let topic = unique_name("storage");
    let table = unique_name("storage");
    let start = common::recent_start_ms() + 600_000;
    let generator = {
        let services = services.clone();
        let topic = topic.clone();
        std::thread::spawn(move || {
            common::generate(&services, common::STEADY_SUITE, &topic, "tumbling", start, &RATE)
        })
    };
    // The generator creates the topic; the engine must find it there.
    wait_for("the generator's topic", Duration::from_secs(60), || {
        topic_exists(&services.brokers, &topic)
    });
    let log_dir = tempfile::tempdir().expect("tempdir");
    let log = log_dir.path().join("engine.log");
    let interval = if engine == "continuous" {
        ["--checkpoint-interval-ms", "100"]
    } else {
        ["--trigger-interval-ms", "100"]
    };
    let mut child = streambench()
        .args([
            "engine",
            engine,
            "--suite",
            common::STEADY_SUITE,
            "--job",
            "tumbling",
        ])
        .args([
            "--topic",
            &topic,
            "--table",
            &table,
            "--delivery",
            "upsert",
            "--metrics-addr",
            "off",
        ])
        .args(interval)
        .arg("--checkpoint-dir")
        .arg(&checkpoints)
        .args(["--brokers", &services.brokers, "--postgres", &services.postgres])
        .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
        .stderr(Stdio::from(
            std::fs::File::create(log.with_extension("err")).expect("log"),
        ))
        .spawn()
        .expect("start the engine");
    // Generous: what is tested is the broken storage, not how fast an engine
    // starts, and on a fresh machine the first engine start shares the cores
    // with the stack's first-use set-up (a cold-machine CI run took over 30 s).
    wait_for("the first checkpoint", Duration::from_secs(120), || {
        first_checkpoint(&checkpoints)
    });
    break_storage(storage.path());

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{engine}: still running 30 s after its checkpoint storage broke"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
        + &std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !status.success(),
        "{engine}: exited successfully with broken storage:\n{said}"
    );
    assert!(
        said.contains(expected),
        "{engine}: no '{expected}' in what it said:\n{said}"
    );
    assert!(
        said.contains("is intact"),
        "{engine}: does not say its last checkpoint is intact:\n{said}"
    );
    eprintln!(
        "{engine} said: {}",
        said.lines()
            .filter(|l| l.contains(expected))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!said.contains("panicked"), "{engine} panicked:\n{said}");
    assert!(
        !files(&checkpoints)
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".tmp")),
        "{engine}: a partial file was left behind: {:?}",
        files(&checkpoints)
    );
    if engine == "continuous" {
        let store = streambench_engines::checkpoint::CheckpointStore::open(&checkpoints, 3).expect("open");
        let latest: Option<(u64, serde_json::Value)> = store.latest(None).expect("read checkpoints");
        assert!(latest.is_some(), "the last good checkpoint is intact");
    }
    generator.join().expect("the generator finished");

    mend_storage(storage.path());
    let input = Input {
        suite: common::STEADY_SUITE,
        job: "tumbling",
        topic: &topic,
    };
    let restarted = common::engine(
        services,
        engine,
        &input,
        &table,
        &checkpoints,
        &["--delivery", "upsert"],
        None,
    );
    finished(&restarted);
    let report = check_with(services, common::STEADY_SUITE, "tumbling", &table, start, &RATE);
    assert!(
        exact(&report, false),
        "{engine} after the storage came back: {report:#}"
    );
}

fn has_checkpoint(dir: &Path) -> bool {
    files(dir).iter().any(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("chk-"))
    })
}

fn has_commit(dir: &Path) -> bool {
    files(&dir.join("commits")).iter().any(|p| {
        p.file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
    })
}

#[tokio::test]
async fn a_full_checkpoint_disk_stops_the_engine_and_a_restart_recovers() {
    let services = services().await;
    storage_fails_then_recovers(
        &services,
        "continuous",
        has_checkpoint,
        |root| fill(&root.join("filler")),
        |root| std::fs::remove_file(root.join("filler")).expect("free the space"),
        "No space left on device",
    );
}

#[tokio::test]
async fn a_read_only_checkpoint_directory_stops_the_engine_and_a_restart_recovers() {
    let services = services().await;
    storage_fails_then_recovers(
        &services,
        "microbatch",
        has_commit,
        |root| mount(&["-o", "remount,ro"], root),
        |root| mount(&["-o", "remount,rw"], root),
        "Read-only file system",
    );
}
