//! `stack up`, `status` and `down` on a home of their own: both services start
//! and answer, and `down` leaves none of their processes running.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use streambench_harness::home::Home;

fn pid_in(state_file: &Path) -> u32 {
    let text = std::fs::read_to_string(state_file).expect("state file");
    let state: serde_json::Value = serde_json::from_str(&text).expect("state json");
    state["process"]["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid in {text}")) as u32
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next()),
            Some("Z" | "X")
        ),
        Err(_) => false,
    }
}

/// The local addresses `pid` listens on (TCP, IPv4 and IPv6), as
/// `/proc/net/tcp*` spells them: hex address, then hex port.
fn listening_addresses(pid: u32) -> Vec<String> {
    let sockets: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the process's descriptors")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().to_string();
            Some(target.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, state (0A = LISTEN), inode
            (fields.get(3) == Some(&"0A") && sockets.iter().any(|s| Some(&s.as_str()) == fields.get(9)))
                .then(|| fields[1].to_string())
        })
        .collect()
}

#[test]
fn up_status_down_on_a_fresh_home() {
    let home = tempfile::tempdir().expect("temp home");
    // The postgres user (when we run as root) must be able to reach the cluster.
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let tools = Home::from_env().tools_dir().to_path_buf();
    let run = |args: &[&str]| {
        common::run(
            common::streambench()
                .args(args)
                .env("STREAMBENCH_HOME", home.path())
                .env("STREAMBENCH_TOOLS", &tools)
                .env_remove("STREAMBENCH_BROKERS")
                .env_remove("DATABASE_URL"),
        )
    };

    let (ok, text) = run(&["stack", "up"]);
    assert!(ok, "stack up failed: {text}");
    let kafka_pid = pid_in(&home.path().join("stack/kafka/state.json"));
    let postgres_pid = pid_in(&home.path().join("stack/postgres/state.json"));
    assert!(alive(kafka_pid) && alive(postgres_pid));
    // Nothing the stack starts listens beyond loopback.
    for (name, pid) in [("Kafka", kafka_pid), ("PostgreSQL", postgres_pid)] {
        let addresses = listening_addresses(pid);
        assert!(!addresses.is_empty(), "{name} listens nowhere?");
        for address in addresses {
            let host = address.split(':').next().unwrap_or_default();
            // 127.0.0.1, ::1, or 127.0.0.1 mapped into IPv6 (as Java binds it).
            assert!(
                [
                    "0100007F",
                    "00000000000000000000000001000000",
                    "0000000000000000FFFF00000100007F"
                ]
                .contains(&host),
                "{name} listens on {address}, beyond loopback"
            );
        }
    }

    let (ok, text) = run(&["stack", "status"]);
    assert!(ok, "stack status failed: {text}");
    assert_eq!(text.matches("answering").count(), 2, "{text}");
    assert!(!text.contains("NOT answering"), "{text}");

    let (ok, text) = run(&["stack", "up"]);
    assert!(ok, "a second stack up is a no-op: {text}");
    assert_eq!(
        pid_in(&home.path().join("stack/kafka/state.json")),
        kafka_pid,
        "same broker"
    );

    let (ok, text) = run(&["stack", "down"]);
    assert!(ok, "stack down failed: {text}");
    assert!(text.contains("kafka") && text.contains("postgres"), "{text}");
    assert!(!alive(kafka_pid), "Kafka still running after down");
    assert!(!alive(postgres_pid), "PostgreSQL still running after down");

    let (ok, text) = run(&["stack", "status"]);
    assert!(!ok, "status after down must fail: {text}");
}
