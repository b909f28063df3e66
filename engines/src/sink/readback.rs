//! Reading a run's tables back: for the oracle check, for latency, and for
//! tests. This is how the harness sees what an engine did.

use streambench_workloads::decimals::{scale, units_of};
use streambench_workloads::declared_run::KeyColumn;
use streambench_workloads::expr::{Type, Val};
use streambench_workloads::job::{Aggregate, JobSpec, ResultAggregate};
use streambench_workloads::key_names::key_id;
use streambench_workloads::oracle::{Observed, ResultRow};
use streambench_workloads::per_event::EventRow;
use streambench_workloads::window::{AggregateValue, WindowKey};
use tokio_postgres::Client;

use super::tables::{Tables, event_columns, key_list, quoted};
use crate::error::{Error, Result};

/// Every row of a per-event job's result table. A key carried by id is
/// read from its own columns and hashed as the engines hash it ([`key_id`]).
pub async fn read_event_rows(client: &Client, tables: &Tables, job: &JobSpec) -> Result<Vec<EventRow>> {
    let columns: Vec<String> = event_columns(job).iter().map(|(name, _)| quoted(name)).collect();
    let rows = select_results(client, tables, &columns.join(", ")).await?;
    let named = job.named_key();
    let keys = named.as_ref().map_or(1, Vec::len);
    Ok(rows
        .iter()
        .map(|row| EventRow {
            event_id: row.get::<_, i64>(0) as u64,
            event_time_ms: row.get(1),
            key: match &named {
                None => row.get::<_, i64>(2) as u64,
                Some(columns) => key_id(&key_values(row, 2, columns)),
            },
            ad_id: row.get::<_, i64>(2 + keys) as u64,
            user_id: row.get::<_, i64>(3 + keys) as u64,
            count: row.get(4 + keys),
        })
        .collect())
}

/// Every row of a windowed job's result table, as the oracle check reads them.
/// A key carried by id is read from its own columns and hashed as the
/// engines hash it ([`key_id`]); a float aggregated in units is read back
/// in them.
pub async fn read_results(client: &Client, tables: &Tables, job: &JobSpec) -> Result<Vec<ResultRow>> {
    let named = job.named_key();
    let keys = named.as_ref().map_or(1, Vec::len);
    let aggregates = job.result_aggregates();
    let mut columns = vec![key_list(job), "window_start_ms, window_end_ms, revision".into()];
    columns.extend(aggregates.iter().map(|c| quoted(&c.column)));
    let rows = select_results(client, tables, &columns.join(", ")).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let key = match &named {
                None => row.get::<_, i64>(0) as u64,
                Some(columns) => key_id(&key_values(row, 0, columns)),
            };
            ResultRow {
                window: WindowKey {
                    key,
                    window_start_ms: row.get(keys),
                    window_end_ms: row.get(keys + 1),
                },
                revision: row.get(keys + 2),
                aggregates: aggregates
                    .iter()
                    .enumerate()
                    .map(|(i, column)| aggregate_value(row, keys + 3 + i, column))
                    .collect(),
            }
        })
        .collect())
}

/// The value of `column` at `at` in a row, in the units the engines
/// aggregate in: the column itself, or for a float with `decimals` its units
/// again ([`streambench_workloads::decimals`]); a mean as written, times
/// 10^decimals.
fn aggregate_value(row: &tokio_postgres::Row, at: usize, column: &ResultAggregate) -> Option<AggregateValue> {
    match (column.aggregate, column.decimals) {
        (Aggregate::Mean, d) => {
            let mean: Option<f64> = row.get(at);
            mean.map(|m| AggregateValue::Mean(m * d.map_or(1.0, scale)))
        }
        (_, None) => row.get::<_, Option<i64>>(at).map(AggregateValue::Whole),
        (_, Some(d)) => row
            .get::<_, Option<f64>>(at)
            .map(|x| AggregateValue::Whole(units_of(x, d))),
    }
}

/// The values of the key's `columns` in a row, from its column `first` on.
fn key_values(row: &tokio_postgres::Row, first: usize, columns: &[KeyColumn]) -> Vec<Val> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| (first + i, column))
        .map(|(at, column)| match column.kind {
            Type::Int => Val::Int(row.get(at)),
            Type::Float => Val::Float(row.get(at)),
            Type::Text => Val::Text(row.get(at)),
            Type::Bool => Val::Bool(row.get(at)),
        })
        .collect()
}

/// Every row of the result table, `columns` of each.
async fn select_results(client: &Client, tables: &Tables, columns: &str) -> Result<Vec<tokio_postgres::Row>> {
    client
        .query(&format!("SELECT {columns} FROM {}", quoted(&tables.results)), &[])
        .await
        .map_err(Error::postgres(format!("reading {}", tables.results)))
}

/// The event ids in the late-events side output.
pub async fn read_late_event_ids(client: &Client, tables: &Tables) -> Result<Vec<u64>> {
    let rows = client
        .query(&format!("SELECT event_id FROM {}", quoted(&tables.late)), &[])
        .await
        .map_err(Error::postgres(format!("reading {}", tables.late)))?;
    Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
}

/// How many records are in the dead-letter table.
pub async fn count_dead_letters(client: &Client, tables: &Tables) -> Result<u64> {
    let row = client
        .query_one(
            &format!("SELECT count(*) FROM {}", quoted(&tables.dead_letters)),
            &[],
        )
        .await
        .map_err(Error::postgres(format!("reading {}", tables.dead_letters)))?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Everything the oracle check needs from a run's tables.
pub async fn read_observed(client: &Client, tables: &Tables, job: &JobSpec) -> Result<Observed> {
    let (rows, event_rows) = if job.window.is_per_event() {
        (Vec::new(), read_event_rows(client, tables, job).await?)
    } else {
        (read_results(client, tables, job).await?, Vec::new())
    };
    Ok(Observed {
        rows,
        event_rows,
        late_side_output: read_late_event_ids(client, tables).await?,
        dead_letters: count_dead_letters(client, tables).await?,
    })
}
