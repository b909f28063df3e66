//! The micro-batch engine against the real broker and database: every job in
//! every delivery mode and output mode equals the oracle, and a crash at each
//! step of the batch protocol re-runs the right batch.

mod common;

use common::{
    Input, check, count, exact, finished, generate, microbatch, recent_start_ms, services, unique_name,
};

#[tokio::test]
async fn every_job_in_every_delivery_and_output_mode_equals_the_oracle() {
    let services = services().await;
    let start = recent_start_ms();
    let measurements = unique_name("mb_m");
    let ads = unique_name("mb_a");
    generate(
        &services,
        common::SMALL_SUITE,
        &measurements,
        "tumbling",
        start,
        &[],
    );
    generate(&services, common::SMALL_SUITE, &ads, "ysb", start, &[]);
    let inputs_before = [&measurements, &ads].map(|t| common::end_offsets(&services, t));
    let dir = tempfile::tempdir().expect("tempdir");
    for job in ["tumbling", "sliding", "session", "ysb"] {
        let topic = if job == "ysb" { &ads } else { &measurements };
        let input = Input {
            suite: common::SMALL_SUITE,
            job,
            topic,
        };
        for (mode, output) in [
            ("insert", "append"),
            ("upsert", "append"),
            ("transactional", "append"),
            ("upsert", "update"),
            ("insert", "update"),
        ] {
            if job == "session" && output == "update" {
                // A session merged into a later one leaves the row it had
                // as an open session: there are no retractions (as in Spark).
                continue;
            }
            let table = unique_name(&format!("m_{}_{}_{}", &job[..3], &mode[..3], &output[..1]));
            // Upsert reads with two tasks (two consumers over the three partitions), the rest with one.
            let parallelism = if mode == "upsert" { "2" } else { "1" };
            let run = microbatch(
                &services,
                &input,
                &table,
                &dir.path().join(&table),
                &[
                    "--delivery",
                    mode,
                    "--output-mode",
                    output,
                    "--parallelism",
                    parallelism,
                ],
                None,
            );
            let summary = finished(&run);
            let batches = summary["checkpoints"].as_u64().unwrap_or(0);
            assert!(batches >= 5, "several batches: {summary}");
            // One progress line per batch, as Spark's progress events.
            let progress =
                std::fs::read_to_string(dir.path().join(&table).join("progress.jsonl")).expect("progress");
            let lines: Vec<serde_json::Value> = progress
                .lines()
                .map(|l| serde_json::from_str(l).expect("json"))
                .collect();
            assert_eq!(lines.len() as u64, batches);
            let read: u64 = lines.iter().map(|l| l["input_rows"].as_u64().unwrap_or(0)).sum();
            assert_eq!(read, summary["records_read"].as_u64().unwrap_or(0));
            for step in [
                "get_offsets",
                "wal_commit",
                "read_and_decode",
                "compute",
                "state_commit",
                "sink",
                "commit_log",
            ] {
                assert!(
                    lines[0]["durations_ms"][step].is_number(),
                    "{step} in {}",
                    lines[0]
                );
            }
            let report = check(&services, common::SMALL_SUITE, job, &table, start);
            assert!(
                exact(&report, false),
                "{job}, {mode}, {output} mode differs from the oracle: {report:#}"
            );
            assert!(count(&report, "matched") > 0, "{job}: {report}");
            if output == "update" {
                let client = streambench_engines::sink::connect(&services.postgres)
                    .await
                    .expect("connect");
                let revised: i64 = client
                    .query_one(&format!("SELECT count(*) FROM {table} WHERE revision > 0"), &[])
                    .await
                    .expect("count")
                    .get(0);
                assert!(
                    revised > 0,
                    "{job}: update mode writes windows again as they change"
                );
            }
        }
    }
    assert_eq!(
        [&measurements, &ads].map(|t| common::end_offsets(&services, t)),
        inputs_before,
        "the micro-batch engine wrote into its input topics"
    );
}

/// Crashes the engine (in `output` mode) at `point`, restarts it, checks the
/// table, and returns the duplicate rows found.
fn crash_and_recover(
    services: &streambench_harness::stack::Resolved,
    topic: &str,
    (mode, output): (&str, &str),
    point: &str,
    start: i64,
) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = unique_name("mb_crash");
    let input = Input {
        suite: common::STEADY_SUITE,
        job: "tumbling",
        topic,
    };
    // Transactional mode re-runs its batches with two reading tasks.
    let parallelism = if mode == "transactional" { "2" } else { "1" };
    let flags = [
        "--delivery",
        mode,
        "--output-mode",
        output,
        "--parallelism",
        parallelism,
    ];
    let crashed = microbatch(services, &input, &table, dir.path(), &flags, Some(point));
    assert!(
        !crashed.ok && crashed.text.contains("crashing at"),
        "{mode}: the crash at {point} never came:\n{}",
        crashed.text
    );
    let resumed = microbatch(services, &input, &table, dir.path(), &flags, None);
    finished(&resumed);
    let report = check(services, common::STEADY_SUITE, "tumbling", &table, start);
    let duplicates = count(&report, "duplicate_rows");
    eprintln!(
        "{mode:<13} crash at {point:<36} duplicates {duplicates:>4}  lost {}  missing windows {}",
        count(&report, "lost_events"),
        count(&report, "missing")
    );
    assert!(
        exact(&report, mode == "insert"),
        "{mode}, crash at {point}: the promise is broken: {report:#}"
    );
    duplicates
}

fn crash_topic(services: &streambench_harness::stack::Resolved) -> (String, i64) {
    let start = recent_start_ms();
    let topic = unique_name("mb_crash");
    generate(services, common::STEADY_SUITE, &topic, "tumbling", start, &[]);
    (topic, start)
}

const POINTS: [&str; 4] = [
    "microbatch.after_offsets_log:3",
    "microbatch.after_state:3",
    "microbatch.after_sink:3",
    "microbatch.after_commit_log:3",
];

#[tokio::test]
async fn insert_mode_repeats_only_the_batch_that_was_re_run() {
    let services = services().await;
    let (topic, start) = crash_topic(&services);
    for point in POINTS {
        // Update mode writes every window a batch changes, so each batch has rows to repeat.
        let duplicates = crash_and_recover(&services, &topic, ("insert", "update"), point, start);
        if point.starts_with("microbatch.after_sink") {
            assert!(duplicates > 0, "the re-run batch writes its rows again");
        } else {
            assert_eq!(duplicates, 0, "at {point} no written batch is re-run");
        }
    }
}

#[tokio::test]
async fn upsert_and_transactional_modes_are_exact_after_a_crash_at_any_step() {
    let services = services().await;
    let (topic, start) = crash_topic(&services);
    for mode in ["upsert", "transactional"] {
        for point in POINTS {
            assert_eq!(
                crash_and_recover(&services, &topic, (mode, "append"), point, start),
                0
            );
        }
    }
    // Transactional mode also between the statements of its transaction.
    for point in ["sink.transaction.after_rows:3", "sink.transaction.after_commit:3"] {
        assert_eq!(
            crash_and_recover(&services, &topic, ("transactional", "append"), point, start),
            0
        );
    }
}
