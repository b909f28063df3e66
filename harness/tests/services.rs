//! The real broker and database do what streambench needs of them, and wrong
//! addresses fail fast with a clear message.

mod common;

use std::time::{Duration, Instant};

use streambench_harness::broker_check::{ProbeKind, check_broker};

#[tokio::test]
async fn broker_passes_every_functional_probe() {
    let services = common::services().await;
    let probes = check_broker(&services.brokers).await.expect("broker check runs");
    let names: Vec<&str> = probes.iter().map(|p| p.name).collect();
    for expected in [
        "topic with 4 partitions",
        "produce with keys and timestamps",
        "consumer group commit and resume",
        "two consumers split the partitions",
        "offsets_for_times",
        "assign + seek into the middle of a batch",
        "high watermarks",
        "every record produced is consumed",
    ] {
        assert!(
            names.contains(&expected),
            "probe {expected:?} missing from {names:?}"
        );
    }
    let failed: Vec<_> = probes
        .iter()
        .filter(|p| p.kind == ProbeKind::Functional && !p.passed)
        .collect();
    assert!(failed.is_empty(), "failed probes: {failed:#?}");
}

#[tokio::test]
async fn postgres_round_trip() {
    let services = common::services().await;
    let (client, connection) = tokio_postgres::connect(&services.postgres, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    let table = common::unique_name("round_trip");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, note text)"
        ))
        .await
        .expect("create table");
    client
        .execute(
            &format!("INSERT INTO {table} VALUES ($1, $2), ($3, $4)"),
            &[&1i64, &"one", &2i64, &"two"],
        )
        .await
        .expect("insert");
    let rows = client
        .query(&format!("SELECT id, note FROM {table} ORDER BY id"), &[])
        .await
        .expect("select");
    let read: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(read, vec![(1, "one".to_string()), (2, "two".to_string())]);
    let commit_ts_on: String = client
        .query_one("SHOW track_commit_timestamp", &[])
        .await
        .expect("show setting")
        .get(0);
    if std::env::var("DATABASE_URL").is_err() {
        assert_eq!(
            commit_ts_on, "on",
            "the embedded cluster records commit times for latency"
        );
    }
    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .expect("drop table");
}

/// Runs `stack status` with the given flags and checks that it fails fast,
/// naming `address`.
fn status_fails_fast(flags: &[&str], address: &str) {
    let started = Instant::now();
    let (ok, text) = common::run(common::streambench().args(["stack", "status"]).args(flags));
    let elapsed = started.elapsed();
    assert!(!ok, "status should fail: {text}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert!(text.contains(address), "message names {address}: {text}");
    assert!(!text.contains("panicked"), "no panic: {text}");
}

#[tokio::test]
async fn wrong_broker_address_fails_within_ten_seconds() {
    let services = common::services().await;
    status_fails_fast(
        &["--brokers", "127.0.0.1:1", "--postgres", &services.postgres],
        "127.0.0.1:1",
    );
}

#[tokio::test]
async fn wrong_database_address_fails_within_ten_seconds_and_hides_the_password() {
    let services = common::services().await;
    let url = "postgres://bench:hunter2@127.0.0.1:1/streambench";
    status_fails_fast(
        &["--brokers", &services.brokers, "--postgres", url],
        "127.0.0.1:1",
    );
    let (_, text) = common::run(common::streambench().args([
        "stack",
        "status",
        "--brokers",
        &services.brokers,
        "--postgres",
        url,
    ]));
    assert!(!text.contains("hunter2"), "password leaked: {text}");
}

/// Runs that start together (CI runs two Spark tests at once on a new
/// database) create the tables they share; none may fail on the race
/// inside PostgreSQL's `CREATE TABLE IF NOT EXISTS`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_tables_created_by_many_runs_at_once_are_created_once_without_error() {
    let services = common::services().await;
    let table = common::unique_name("shared");
    let statement = format!("CREATE TABLE IF NOT EXISTS {table} (sink text PRIMARY KEY, batch_id bigint)");
    let runs: Vec<_> = (0..16)
        .map(|_| {
            let (url, statement) = (services.postgres.clone(), statement.clone());
            tokio::spawn(async move {
                let mut client = streambench_engines::sink::connect(&url).await?;
                streambench_engines::sink::create_serialised(&mut client, &[statement]).await
            })
        })
        .collect();
    for run in runs {
        run.await
            .expect("the task")
            .expect("set-up succeeds in every run");
    }
    let client = streambench_engines::sink::connect(&services.postgres)
        .await
        .expect("connect");
    let made: i64 = client
        .query_one("SELECT count(*) FROM pg_class WHERE relname = $1", &[&table])
        .await
        .expect("catalogue")
        .get(0);
    assert_eq!(made, 1);
    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .expect("drop");
}
