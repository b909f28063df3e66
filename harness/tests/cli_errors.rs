//! Bad suites, bad flags and unreachable services: one clear message naming
//! the file (with line and column) or the address, a non-zero exit, and
//! never a panic or a stack trace.

mod common;

use common::{run, streambench};

const VALID_WORKLOAD: &str =
    "[workload]\nseed = 1\nduration_s = 5\nrate = { kind = \"constant\", events_per_s = 5 }\n";

/// Runs `streambench args...` and returns what it said; asserts it failed
/// cleanly.
fn fails(args: &[&str]) -> String {
    let (ok, said) = run(streambench()
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env_remove("STREAMBENCH_BROKERS")
        .env_remove("DATABASE_URL"));
    assert!(!ok, "{args:?} succeeded:\n{said}");
    for sign in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!said.contains(sign), "{args:?}: {sign}:\n{said}");
    }
    said
}

/// Runs a suite with `text` against services that are not there (the suite
/// must be refused before anything is contacted).
fn suite_fails(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("suite.toml");
    std::fs::write(&path, text).expect("write suite");
    let said = fails(&[
        "run",
        path.to_str().expect("utf-8 path"),
        "--brokers",
        "127.0.0.1:1",
        "--postgres",
        "postgres://bench:s3cret@127.0.0.1:1/db",
    ]);
    assert!(said.contains("suite.toml"), "the file is not named:\n{said}");
    assert_eq!(said.matches("error:").count(), 1, "one message:\n{said}");
    said
}

#[test]
fn an_unknown_field_is_named_with_its_line_and_column() {
    let said = suite_fails(&format!(
        "name = \"x\"\n{VALID_WORKLOAD}rat = 5\n[matrix]\njobs = [\"tumbling\"]\nengines = [\"continuous\"]\n"
    ));
    assert!(
        said.contains("line 6, column 1") && said.contains("unknown field `rat`"),
        "{said}"
    );
}

#[test]
fn broken_toml_is_named_with_its_line_and_column() {
    let said = suite_fails("name = \"x\"\nengines = [\n");
    assert!(said.contains("line 2, column 12"), "{said}");
}

#[test]
fn a_bad_rate_says_which_setting_and_why() {
    let said = suite_fails(&format!(
        "name = \"x\"\n{}[matrix]\njobs = [\"tumbling\"]\nengines = [\"continuous\"]\n",
        VALID_WORKLOAD.replace("events_per_s = 5", "events_per_s = -5")
    ));
    assert!(said.contains("rate") && said.contains("-5"), "{said}");
}

#[test]
fn an_unknown_job_lists_the_catalogue() {
    let said = suite_fails(&format!(
        "name = \"x\"\n{VALID_WORKLOAD}[matrix]\njobs = [\"nope\"]\nengines = [\"continuous\"]\n"
    ));
    assert!(said.contains("\"nope\"") && said.contains("tumbling"), "{said}");
}

#[test]
fn an_unreadable_suite_is_named_once() {
    let said = fails(&["run", "/nonexistent/suite.toml", "--brokers", "127.0.0.1:1"]);
    assert!(said.contains("/nonexistent/suite.toml"), "{said}");
    assert_eq!(said.matches("No such file").count(), 1, "said once:\n{said}");
}

#[test]
fn an_unreachable_service_is_named_by_its_address_without_the_password() {
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/../workloads/suites/quickstart.toml");
    let said = fails(&[
        "run",
        suite,
        "--brokers",
        "127.0.0.1:1",
        "--postgres",
        "postgres://bench:s3cret@127.0.0.1:1/db",
    ]);
    assert!(said.contains("127.0.0.1:1"), "{said}");
    assert!(!said.contains("s3cret"), "the password was printed:\n{said}");
}

/// Runs `streambench command args...` against a broker and a database at
/// an address that takes connections and never answers (worse than one
/// that refuses them): it must fail within 10 s, naming the address
/// without the password.
fn fails_fast_against_a_silent_address(command: &[&str], needs_kafka: bool) {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let address = silent.local_addr().expect("its address").to_string();
    let postgres = format!("postgres://bench:s3cret@{address}/db");
    let started = std::time::Instant::now();
    let mut args = command.to_vec();
    args.extend(["--brokers", &address, "--postgres", &postgres]);
    let said = fails(&args);
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(10),
        "{command:?} took {took:?}:\n{said}"
    );
    assert!(
        said.contains(&address),
        "{command:?} does not name {address}:\n{said}"
    );
    let service = if needs_kafka { "Kafka" } else { "PostgreSQL" };
    let answers_not = said.contains("does not answer") || said.contains("did not answer");
    assert!(
        said.contains(service) && answers_not,
        "{command:?} does not say {service} is silent:\n{said}"
    );
    assert!(!said.contains("s3cret"), "the password was printed:\n{said}");
}

#[test]
fn generate_fails_fast_on_a_silent_broker() {
    fails_fast_against_a_silent_address(
        &["generate", "--job", "tumbling", "--events", "10", "--topic", "t"],
        true,
    );
}

#[test]
fn an_engine_fails_fast_on_silent_services() {
    for engine in ["continuous", "microbatch"] {
        fails_fast_against_a_silent_address(
            &[
                "engine", engine, "--job", "tumbling", "--table", "t", "--topic", "t",
            ],
            true,
        );
    }
}

/// `check` of the first ten `tumbling` events, before its table and services.
const CHECK_TEN_TUMBLING_EVENTS: [&str; 7] = [
    "check",
    "--job",
    "tumbling",
    "--events",
    "10",
    "--start-time-ms",
    "0",
];

#[test]
fn check_fails_fast_on_a_silent_database() {
    let args: Vec<&str> = CHECK_TEN_TUMBLING_EVENTS
        .iter()
        .copied()
        .chain(["--table", "t"])
        .collect();
    fails_fast_against_a_silent_address(&args, false);
}

#[test]
fn run_and_bench_fail_fast_on_silent_services() {
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/../workloads/suites/quickstart.toml");
    fails_fast_against_a_silent_address(&["run", suite], true);
    fails_fast_against_a_silent_address(&["bench", "--engines", "continuous", "--events", "10"], true);
}

#[tokio::test]
async fn a_table_that_is_not_there_is_named_with_what_postgresql_said() {
    let services = common::services().await;
    let args: Vec<&str> = CHECK_TEN_TUMBLING_EVENTS
        .iter()
        .copied()
        .chain(["--table", "never_created", "--postgres", &services.postgres])
        .collect();
    let said = fails(&args);
    assert!(
        said.contains("relation \"never_created\" does not exist") && said.contains("42P01"),
        "{said}"
    );
}

#[test]
fn a_bad_flag_value_is_refused_with_the_flag_named() {
    let said = fails(&["generate", "--rate", "abc", "--topic", "t"]);
    assert!(said.contains("--rate"), "{said}");
}

#[test]
fn a_table_name_cannot_carry_sql() {
    let flags = [
        "--table",
        "x; DROP TABLE y",
        "--postgres",
        "postgres://bench:s3cret@127.0.0.1:1/db",
    ];
    let said = fails(
        &CHECK_TEN_TUMBLING_EVENTS
            .iter()
            .copied()
            .chain(flags)
            .collect::<Vec<_>>(),
    );
    assert!(
        said.contains("table name") && said.contains("DROP TABLE"),
        "{said}"
    );
    assert!(!said.contains("s3cret"), "{said}");
}

#[test]
fn an_engine_refuses_a_job_file_that_is_not_its_job_before_any_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("job.json");
    let job = streambench_workloads::job::catalogue_job("ysb").expect("ysb");
    let file = streambench_harness::job_file::JobFile {
        job,
        workload_seed: 1,
        workload_keys: 10,
        workload_format: Default::default(),
    };
    file.write(&path).expect("writes the job file");
    let path = path.to_str().expect("utf-8 path");
    let silent = [
        "--brokers",
        "127.0.0.1:1",
        "--postgres",
        "postgres://127.0.0.1:1/db",
    ];
    for engine in ["continuous", "microbatch"] {
        let mut args = vec![
            "engine",
            engine,
            "--job",
            "tumbling",
            "--table",
            "t",
            "--job-file",
            path,
        ];
        args.extend(silent);
        let said = fails(&args);
        assert!(
            said.contains("job.json") && said.contains("\"ysb\"") && !said.contains("answer"),
            "{engine}: a mismatched job file:\n{said}"
        );
        args.extend(["--suite", "suite.toml"]);
        let said = fails(&args);
        assert!(
            said.contains("--suite") && said.contains("--job-file"),
            "{engine}: {said}"
        );
    }
}

#[test]
fn bench_refuses_a_setting_its_engine_does_not_have_before_any_service() {
    let silent = [
        "--brokers",
        "127.0.0.1:1",
        "--postgres",
        "postgres://127.0.0.1:1/db",
    ];
    let unknown = fails(
        &[
            &["bench", "--engines", "continuous", "--set", "continuous.nope=1"],
            &silent[..],
        ]
        .concat(),
    );
    assert!(
        unknown.contains("unknown field `nope`") && !unknown.contains("127.0.0.1:1"),
        "{unknown}"
    );
    let elsewhere = fails(
        &[
            &[
                "bench",
                "--engines",
                "continuous",
                "--set",
                "microbatch.parallelism=2",
            ],
            &silent[..],
        ]
        .concat(),
    );
    assert!(elsewhere.contains("not in --engines"), "{elsewhere}");
    let shapeless = fails(&["bench", "--set", "parallelism"]);
    assert!(shapeless.contains("ENGINE.NAME=VALUE"), "{shapeless}");
}
