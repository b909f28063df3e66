//! `streambench check`: a run's tables compared with the oracle.

use streambench_engines::sink::readback::read_observed;
use streambench_engines::sink::tables::Tables;
use streambench_workloads::generator::Generator;
use streambench_workloads::job::JobSpec;
use streambench_workloads::oracle::{CheckReport, Oracle};

/// Reads the tables of the run whose result table is `table` and checks
/// them against `job`'s oracle on `generator`'s events.
pub async fn check_table(
    postgres: &str,
    table: &str,
    job: &JobSpec,
    generator: &Generator,
) -> anyhow::Result<CheckReport> {
    let tables = Tables::new(table)?;
    let client = streambench_engines::sink::connect(postgres).await?;
    let observed = read_observed(&client, &tables, job).await?;
    let oracle = Oracle::compute(job, generator)?;
    Ok(oracle.check(&observed))
}

/// The report in a few lines a person reads.
pub fn describe(report: &CheckReport) -> String {
    format!(
        "windows: {} expected, {} matched, {} wrong value, {} missing, {} unexpected, {} duplicate rows\n\
         events: {} generated = {} counted + {} late in the side output + {} filtered + {} dead letters \
         ({} malformed generated) + {} lost; {} late events accepted into their windows",
        report.expected_windows,
        report.matched,
        report.wrong_value,
        report.missing,
        report.unexpected,
        report.duplicate_rows,
        report.generated_events,
        report.counted_events,
        report.late_dropped,
        report.filtered_events,
        report.dead_lettered,
        report.malformed_events,
        report.lost_events,
        report.late_accepted,
    )
}
