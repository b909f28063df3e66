//! The tables a job writes, their names and their definitions. Every name is
//! checked to be a plain identifier and quoted, so nothing from a suite or a
//! flag can reach SQL as code.

use streambench_workloads::decimals::{from_units, scale};
use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::expr::{Type, Val};
use streambench_workloads::job::{Aggregate, JobSpec, ResultAggregate};
use streambench_workloads::names::is_identifier;
use streambench_workloads::window::{AggregateValue, WindowAggregate};
use tokio_postgres::types::ToSql;

use crate::error::{Error, Result};

/// The table, shared by every job, that holds source offsets committed
/// together with results in transactional mode.
pub const OFFSETS_TABLE: &str = "streambench_offsets";

/// The names of a job run's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Window results.
    pub results: String,
    /// The results with `emitted_at`, the commit time of each row.
    pub emitted_view: String,
    /// Late events (the side output).
    pub late: String,
    /// Malformed records.
    pub dead_letters: String,
}

impl Tables {
    /// The tables of a run whose result table is `results`.
    pub fn new(results: &str) -> Result<Tables> {
        if !is_identifier(results) {
            return Err(Error::Config(format!(
                "result table name {results:?} must be 1 to 40 lower-case letters, digits and _, starting with a letter"
            )));
        }
        Ok(Tables {
            results: results.to_string(),
            emitted_view: format!("{results}_emitted"),
            late: format!("{results}_late"),
            dead_letters: format!("{results}_dead_letters"),
        })
    }

    /// What latency is measured from, for results due in `[$1, $2]` ms:
    /// each window's last revision (due at its end), or each per-event row
    /// (due at its event time), with the time it was first committed.
    /// Columns: due time in ms, `emitted_us` (microseconds since the epoch),
    /// and for per-event rows the event id.
    pub fn emissions_query(&self, job: &JobSpec) -> String {
        if job.window.is_per_event() {
            return format!(
                "SELECT DISTINCT ON (event_id) event_time_ms, \
                 (extract(epoch FROM emitted_at) * 1000000)::bigint, event_id \
                 FROM {} WHERE event_time_ms >= $1 AND event_time_ms <= $2 \
                 ORDER BY event_id, emitted_at",
                quoted(&self.emitted_view)
            );
        }
        let window = format!("{}, window_start_ms, window_end_ms", key_list(job));
        format!(
            "SELECT DISTINCT ON ({window}) window_end_ms, \
             (extract(epoch FROM emitted_at) * 1000000)::bigint \
             FROM {} WHERE window_end_ms >= $1 AND window_end_ms <= $2 \
             ORDER BY {window}, revision DESC, emitted_at",
            quoted(&self.emitted_view)
        )
    }
}

/// `name` as a quoted SQL identifier; names are checked identifiers, the
/// quotes keep them from ever being read as keywords.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The key columns of `job`'s result table, quoted, comma-separated.
pub fn key_list(job: &JobSpec) -> String {
    let keys: Vec<String> = job.key_columns().iter().map(|c| quoted(&c.name)).collect();
    keys.join(", ")
}

/// The SQL type of a key column of type `kind` (never a float).
pub fn sql_type(kind: Type) -> &'static str {
    match kind {
        Type::Int => "bigint",
        Type::Float => "double precision",
        Type::Text => "text",
        Type::Bool => "boolean",
    }
}

/// `values`, all of type `kind`, as the SQL array a column of that type is
/// written from.
pub fn value_array<'a>(kind: Type, values: impl Iterator<Item = &'a Val>) -> Box<dyn ToSql + Sync> {
    fn typed<'a, T: ToSql + Sync + 'static>(
        values: impl Iterator<Item = &'a Val>,
        cell: fn(&Val) -> Option<T>,
    ) -> Box<dyn ToSql + Sync> {
        Box::new(values.map(cell).collect::<Vec<Option<T>>>())
    }
    match kind {
        Type::Int => typed(values, |v| match v {
            Val::Int(n) => Some(*n),
            _ => None,
        }),
        Type::Float => typed(values, |v| match v {
            Val::Float(f) => Some(*f),
            _ => None,
        }),
        Type::Text => typed(values, |v| match v {
            Val::Text(t) => Some(t.clone()),
            _ => None,
        }),
        Type::Bool => typed(values, |v| match v {
            Val::Bool(b) => Some(*b),
            _ => None,
        }),
    }
}

/// The SQL type of a result column: a float for the mean, and for the
/// sum, minimum, maximum, first and last value of a float aggregated in
/// units of its `decimals` ([`streambench_workloads::decimals`]).
pub fn column_type(column: &ResultAggregate) -> &'static str {
    match (column.aggregate, column.decimals) {
        (Aggregate::Mean, _) => "double precision",
        (aggregate, Some(_)) if aggregate.reads_value() => "double precision",
        _ => "bigint",
    }
}

/// The values `column` takes over `windows`, as the SQL array it is
/// written from (`int8[]`, or `float8[]` for a float column): whole
/// numbers, or units of its decimals divided back.
pub fn column_array<'a>(
    column: &ResultAggregate,
    windows: impl Iterator<Item = &'a WindowAggregate>,
) -> Box<dyn ToSql + Sync> {
    let unit = column.decimals.map_or(1.0, scale);
    let value = |w: &WindowAggregate| w.value_of(column.aggregate, column.field);
    match column_type(column) {
        "bigint" => Box::new(
            windows
                .map(|w| match value(w) {
                    AggregateValue::Whole(n) => n,
                    // Never: a mean's column is a float.
                    AggregateValue::Mean(m) => m.round() as i64,
                })
                .collect::<Vec<i64>>(),
        ),
        _ => Box::new(
            windows
                .map(|w| match (value(w), column.decimals) {
                    (AggregateValue::Whole(n), Some(d)) => from_units(n, d),
                    (AggregateValue::Whole(n), None) => n as f64,
                    (AggregateValue::Mean(m), _) => m / unit,
                })
                .collect::<Vec<f64>>(),
        ),
    }
}

/// The statements that create a run's tables if they are missing: the
/// result table (keyed by window in upsert mode, where rows are overwritten;
/// unkeyed otherwise, so that a row written twice is visible), its
/// `emitted_at` view, the side-output and dead-letter tables, and the shared
/// offsets table.
pub fn create_statements(
    tables: &Tables,
    job: &JobSpec,
    mode: DeliveryMode,
    commit_timestamps: bool,
) -> Vec<String> {
    let columns = if job.window.is_per_event() {
        event_row_columns(job, mode)
    } else {
        window_columns(job, mode)
    };
    // Without commit timestamps, the insert time is the closest stand-in; it
    // under-states latency when rows wait in an open transaction.
    let emitted_at = if commit_timestamps {
        "coalesce(pg_xact_commit_timestamp(xmin), inserted_at)"
    } else {
        "inserted_at"
    };
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {OFFSETS_TABLE} (group_id text NOT NULL, topic text NOT NULL, \
             partition integer NOT NULL, next_offset bigint NOT NULL, epoch bigint NOT NULL, \
             committed_at timestamptz NOT NULL DEFAULT clock_timestamp(), \
             PRIMARY KEY (group_id, topic, partition))"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            quoted(&tables.results),
            columns.join(", ")
        ),
        format!(
            "CREATE OR REPLACE VIEW {} AS SELECT *, {emitted_at} AS emitted_at FROM {}",
            quoted(&tables.emitted_view),
            quoted(&tables.results)
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {} (partition integer NOT NULL, \"offset\" bigint NOT NULL, \
             event_id bigint NOT NULL, key bigint NOT NULL, event_time_ms bigint NOT NULL, \
             watermark_ms bigint NOT NULL, inserted_at timestamptz NOT NULL DEFAULT clock_timestamp(), \
             PRIMARY KEY (partition, \"offset\"))",
            quoted(&tables.late)
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {} (partition integer NOT NULL, \"offset\" bigint NOT NULL, \
             raw bytea NOT NULL, error text NOT NULL, \
             inserted_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (partition, \"offset\"))",
            quoted(&tables.dead_letters)
        ),
    ]
}

/// The columns of a per-event job's result table, as [`event_columns`]
/// gives them; keyed by event in upsert mode.
fn event_row_columns(job: &JobSpec, mode: DeliveryMode) -> Vec<String> {
    let columns = event_columns(job)
        .iter()
        .map(|(name, kind)| format!("{} {kind} NOT NULL", quoted(name)))
        .collect();
    with_bookkeeping(columns, mode, "event_id")
}

/// A per-event job's result columns with their SQL types, in the order of
/// [`EventRow`]'s fields: [`EVENT_ROW_COLUMNS`], with `key` given as the
/// key's own columns when the key is carried by id (text, a boolean or
/// several fields).
///
/// [`EventRow`]: streambench_workloads::per_event::EventRow
pub fn event_columns(job: &JobSpec) -> Vec<(String, &'static str)> {
    let named = job.named_key();
    let mut columns = Vec::new();
    for column in EVENT_ROW_COLUMNS {
        match (&named, column) {
            (Some(keys), "key") => {
                columns.extend(keys.iter().map(|k| (k.name.clone(), sql_type(k.kind))));
            }
            _ => columns.push((column.to_string(), "bigint")),
        }
    }
    columns
}

/// `columns` followed by the columns every result table has, and in upsert
/// mode the primary key `key` (upserts overwrite by it; the other modes keep
/// every row, so that a row written twice is visible).
fn with_bookkeeping(mut columns: Vec<String>, mode: DeliveryMode, key: &str) -> Vec<String> {
    columns.push("engine text NOT NULL".into());
    columns.push("inserted_at timestamptz NOT NULL DEFAULT clock_timestamp()".into());
    if mode == DeliveryMode::Upsert {
        columns.push(format!("PRIMARY KEY ({key})"));
    }
    columns
}

/// A per-event job's result columns, in the order of [`EventRow`]'s fields.
///
/// [`EventRow`]: streambench_workloads::per_event::EventRow
pub use streambench_workloads::per_event::EVENT_ROW_COLUMNS;

/// The columns of a windowed job's result table; keyed by window in upsert mode.
fn window_columns(job: &JobSpec, mode: DeliveryMode) -> Vec<String> {
    let mut columns: Vec<String> = job
        .key_columns()
        .iter()
        .map(|c| format!("{} {} NOT NULL", quoted(&c.name), sql_type(c.kind)))
        .collect();
    columns.push("window_start_ms bigint NOT NULL".into());
    columns.push("window_end_ms bigint NOT NULL".into());
    for column in job.result_aggregates() {
        columns.push(format!(
            "{} {} NOT NULL",
            quoted(&column.column),
            column_type(&column)
        ));
    }
    columns.push("revision bigint NOT NULL".into());
    let key = format!("{}, window_start_ms, window_end_ms", key_list(job));
    with_bookkeeping(columns, mode, &key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use streambench_workloads::job::catalogue_job;

    #[test]
    fn names_are_checked_and_derived() {
        let tables = Tables::new("run_1_ysb").expect("valid");
        assert_eq!(tables.late, "run_1_ysb_late");
        assert_eq!(tables.dead_letters, "run_1_ysb_dead_letters");
        for bad in ["", "Results", "x; DROP TABLE y", "a\"b", "1abc"] {
            assert!(Tables::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(quoted("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn only_upsert_tables_have_a_key_and_every_aggregate_has_a_column() {
        let job = catalogue_job("tumbling").expect("job");
        let tables = Tables::new("t").expect("valid");
        for mode in [
            DeliveryMode::Insert,
            DeliveryMode::Upsert,
            DeliveryMode::Transactional,
        ] {
            let statements = create_statements(&tables, &job, mode, true);
            let results = &statements[1];
            assert_eq!(
                results.contains("PRIMARY KEY"),
                mode == DeliveryMode::Upsert,
                "{mode:?}"
            );
            for aggregate in &job.aggregates {
                assert!(results.contains(aggregate.column()), "{results}");
            }
            assert!(statements[2].contains("pg_xact_commit_timestamp"));
        }
        let without = create_statements(&tables, &job, DeliveryMode::Upsert, false);
        assert!(!without[2].contains("pg_xact_commit_timestamp"));
    }

    #[test]
    fn a_per_event_table_has_a_row_per_event_keyed_by_event_in_upsert_mode() {
        let job = catalogue_job("fraud").expect("job");
        let tables = Tables::new("f").expect("valid");
        for mode in [DeliveryMode::Insert, DeliveryMode::Upsert] {
            let results = &create_statements(&tables, &job, mode, true)[1];
            for column in EVENT_ROW_COLUMNS {
                assert!(
                    results.contains(&format!("\"{column}\" bigint NOT NULL")),
                    "{results}"
                );
            }
            assert!(!results.contains("window_start_ms"), "{results}");
            assert_eq!(
                results.contains("PRIMARY KEY (event_id)"),
                mode == DeliveryMode::Upsert,
                "{results}"
            );
        }
        assert!(tables.emissions_query(&job).contains("DISTINCT ON (event_id)"));
        let windowed = catalogue_job("tumbling").expect("job");
        assert!(tables.emissions_query(&windowed).contains("window_end_ms"));
    }

    #[test]
    fn a_per_event_key_of_text_has_its_own_columns_in_place_of_key() {
        use std::collections::BTreeMap;
        use streambench_workloads::declared_job::DeclaredJob;
        use streambench_workloads::declared_run::lower;
        let schema = serde_json::from_value(serde_json::json!({
            "time": "at", "kafka_key": "card", "id": "id",
            "fields": [
                {"name": "id", "type": "integer", "draw": {"kind": "sequence"}},
                {"name": "at", "type": "timestamp"},
                {"name": "card", "type": "integer", "draw": {"kind": "key"}},
                {"name": "country", "type": "enum", "values": ["US", "DE"], "draw": {"kind": "constant", "value": "DE"}},
            ]
        }))
        .expect("a schema");
        let schemas = BTreeMap::from([("payment".to_string(), schema)]);
        let rule = |key: &[&str]| {
            let declared: DeclaredJob = serde_json::from_value(serde_json::json!({
                "input": "payment", "window": {"kind": "each"}, "key": key
            }))
            .expect("a job");
            lower("rule", &declared, &schemas).expect("lowered")
        };
        let names = |job: &JobSpec| -> Vec<String> {
            event_columns(job)
                .into_iter()
                .map(|(name, kind)| format!("{name} {kind}"))
                .collect()
        };
        let columns = names(&rule(&["card", "country"]));
        assert_eq!(
            columns,
            [
                "event_id bigint",
                "event_time_ms bigint",
                "card bigint",
                "country text",
                "ad_id bigint",
                "user_id bigint",
                "event_count bigint"
            ]
        );
        assert_eq!(names(&rule(&["card"]))[2], "key bigint");
        let table = &create_statements(
            &Tables::new("r").expect("valid"),
            &rule(&["country"]),
            DeliveryMode::Upsert,
            true,
        )[1];
        assert!(table.contains("\"country\" text NOT NULL"), "{table}");
    }
}
