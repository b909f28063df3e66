//! What the integration tests share: the real broker and database they run
//! against, started on demand.

#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use streambench_harness::home::Home;
use streambench_harness::stack::{self, Endpoints, Resolved};

/// The services under test: `STREAMBENCH_BROKERS` and `DATABASE_URL` when
/// set, else the local stack, started now if it is not running.
pub async fn services() -> Resolved {
    let endpoints = Endpoints {
        brokers: std::env::var("STREAMBENCH_BROKERS")
            .ok()
            .filter(|v| !v.is_empty()),
        postgres: std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty()),
    };
    stack::up(&Home::from_env(), &endpoints)
        .await
        .unwrap_or_else(|e| panic!("the test services could not be started: {e:#}"))
}

/// A name no other test (or earlier run) uses, for topics, groups and tables.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// The path of the `streambench` binary built for these tests.
pub fn streambench() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_streambench"))
}

/// Runs a command to its end: whether it succeeded, and its stdout and stderr together.
pub fn run(command: &mut std::process::Command) -> (bool, String) {
    let output = command.output().expect("run streambench");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
