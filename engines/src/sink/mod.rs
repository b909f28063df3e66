//! The PostgreSQL sink, in the three delivery modes a user picks:
//! `insert` (at least once), `upsert` (idempotent) and `transactional`
//! (results and source offsets in one transaction: exactly once).
//!
//! Every write goes out as one statement per table, the rows passed as
//! arrays and expanded by `UNNEST`, so a batch of any size is one round
//! trip. A write that fails because the connection or server went away is
//! retried with backoff on a new connection; it is never dropped.

pub mod readback;
pub mod tables;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use streambench_workloads::declared_run::KeyColumn;
use streambench_workloads::delivery::DeliveryMode;
use streambench_workloads::job::{JobSpec, ResultAggregate};
use streambench_workloads::key_names::KeyNames;
use streambench_workloads::per_event::EventRow;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, NoTls};

use crate::crash;
use crate::error::{Error, Result};
use crate::output::{OutputBatch, WindowResult};
use crate::redact::redact_url;
use crate::source::Offsets;
use tables::{OFFSETS_TABLE, Tables, column_array, create_statements, quoted};

/// How long a write keeps retrying through an outage before it gives up.
const RETRY_FOR: Duration = Duration::from_secs(300);

/// Where and how a job's results are written.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// The PostgreSQL URL.
    pub url: String,
    /// The run's tables.
    pub tables: Tables,
    /// The job, whose aggregates are the table's columns.
    pub job: JobSpec,
    /// The delivery mode.
    pub mode: DeliveryMode,
    /// The engine's name, written in every row.
    pub engine: String,
    /// The topic read, for the offsets table.
    pub topic: String,
    /// The consumer group, for the offsets table.
    pub group: String,
    /// The values of keys carried by id, for their columns.
    pub key_names: Arc<KeyNames>,
}

/// What the transactional offsets table holds for a group: the epoch last
/// committed and the offsets it committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedEpoch {
    /// The epoch (checkpoint or batch) last committed.
    pub epoch: u64,
    /// The next offset to read, per partition.
    pub offsets: Offsets,
}

/// A connected sink.
pub struct PostgresSink {
    config: SinkConfig,
    client: Client,
    results: ResultsStatement,
}

/// The statement writing the result table, and what its key columns are.
#[derive(Debug, Clone)]
struct ResultsStatement {
    sql: String,
    /// The key's own columns, when the key is carried by id.
    named_key: Option<Vec<KeyColumn>>,
    /// The result table's aggregate columns.
    columns: Vec<ResultAggregate>,
}

impl PostgresSink {
    /// Connects and creates the run's tables if they are missing.
    pub async fn connect(config: SinkConfig) -> Result<PostgresSink> {
        let client = connect(&config.url).await?;
        let commit_timestamps = client
            .query_one("SHOW track_commit_timestamp", &[])
            .await
            .map_err(Error::postgres("reading track_commit_timestamp"))?
            .get::<_, String>(0)
            == "on";
        if !commit_timestamps {
            tracing::warn!(
                "track_commit_timestamp is off on this server: emitted_at falls back to the insert time, \
                 which under-states latency for rows that wait in an open transaction"
            );
        }
        let mut sink = PostgresSink {
            results: ResultsStatement {
                sql: results_sql(&config),
                named_key: config.job.named_key(),
                columns: config.job.result_aggregates(),
            },
            config,
            client,
        };
        sink.create_tables(commit_timestamps).await?;
        Ok(sink)
    }

    async fn create_tables(&mut self, commit_timestamps: bool) -> Result<()> {
        let statements = create_statements(
            &self.config.tables,
            &self.config.job,
            self.config.mode,
            commit_timestamps,
        );
        create_serialised(&mut self.client, &statements).await
    }

    /// The sink's settings.
    pub fn config(&self) -> &SinkConfig {
        &self.config
    }

    /// Writes `batch` (insert and upsert modes), retrying through outages.
    pub async fn write(&mut self, batch: &OutputBatch) -> Result<()> {
        if self.config.mode == DeliveryMode::Transactional {
            return Err(Error::Config(
                "a transactional sink writes only whole epochs, with their offsets".into(),
            ));
        }
        if batch.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.write_once(batch).await {
                Ok(()) => return Ok(()),
                Err(e) => self.recover(e, started, &mut backoff).await?,
            }
        }
    }

    async fn write_once(&mut self, batch: &OutputBatch) -> Result<()> {
        let transaction = self
            .client
            .transaction()
            .await
            .map_err(Error::postgres("starting a write"))?;
        write_batch(&transaction, &self.config, &self.results, batch).await?;
        transaction
            .commit()
            .await
            .map_err(Error::postgres("committing a write"))
    }

    /// Writes `batch` and the source `offsets` that produced it, tagged with
    /// `epoch`, in one transaction (transactional mode). Retried through
    /// outages; a commit whose outcome was lost with the connection is
    /// looked up in the offsets table, so it is never applied twice.
    pub async fn commit_epoch(&mut self, batch: &OutputBatch, offsets: &Offsets, epoch: u64) -> Result<()> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.commit_epoch_once(batch, offsets, epoch).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.recover(e, started, &mut backoff).await?;
                    if self.committed_epoch().await?.is_some_and(|c| c.epoch >= epoch) {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn commit_epoch_once(&mut self, batch: &OutputBatch, offsets: &Offsets, epoch: u64) -> Result<()> {
        let transaction = self
            .client
            .transaction()
            .await
            .map_err(Error::postgres("starting an epoch transaction"))?;
        write_batch(&transaction, &self.config, &self.results, batch).await?;
        crash::point("sink.transaction.after_rows");
        let (partitions, next): (Vec<i32>, Vec<i64>) = offsets.iter().map(|(p, o)| (*p, *o)).unzip();
        let epoch_param = epoch as i64;
        transaction
            .execute(
                &format!(
                    "INSERT INTO {OFFSETS_TABLE} (group_id, topic, partition, next_offset, epoch) \
                     SELECT $1, $2, p, o, $3 FROM UNNEST($4::int4[], $5::int8[]) AS u(p, o) \
                     ON CONFLICT (group_id, topic, partition) DO UPDATE SET \
                     next_offset = EXCLUDED.next_offset, epoch = EXCLUDED.epoch, committed_at = clock_timestamp()"
                ),
                &[&self.config.group, &self.config.topic, &epoch_param, &partitions, &next],
            )
            .await
            .map_err(Error::postgres("writing offsets"))?;
        crash::point("sink.transaction.before_commit");
        transaction
            .commit()
            .await
            .map_err(Error::postgres(format!("committing epoch {epoch}")))?;
        crash::point("sink.transaction.after_commit");
        Ok(())
    }

    /// The epoch and offsets last committed for this sink's group and topic
    /// in transactional mode; `None` before the first.
    pub async fn committed_epoch(&mut self) -> Result<Option<CommittedEpoch>> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            let attempt = self
                .client
                .query(
                    &format!(
                        "SELECT partition, next_offset, epoch FROM {OFFSETS_TABLE} WHERE group_id = $1 AND topic = $2"
                    ),
                    &[&self.config.group, &self.config.topic],
                )
                .await
                .map_err(Error::postgres("reading committed offsets"));
            match attempt {
                Ok(rows) if rows.is_empty() => return Ok(None),
                Ok(rows) => {
                    let epoch = rows.iter().map(|r| r.get::<_, i64>(2)).min().unwrap_or(0) as u64;
                    let offsets = rows
                        .iter()
                        .map(|r| (r.get::<_, i32>(0), r.get::<_, i64>(1)))
                        .collect();
                    return Ok(Some(CommittedEpoch { epoch, offsets }));
                }
                Err(e) => self.recover(e, started, &mut backoff).await?,
            }
        }
    }

    /// After a failed request: if the error is one an outage causes and time
    /// remains, waits and reconnects; otherwise returns the error.
    async fn recover(&mut self, error: Error, started: Instant, backoff: &mut Duration) -> Result<()> {
        if !is_transient(&error, &self.client) || started.elapsed() > RETRY_FOR {
            return Err(error);
        }
        tracing::warn!(error = %error, retry_in_ms = backoff.as_millis() as u64, "PostgreSQL write failed; retrying");
        tokio::time::sleep(*backoff).await;
        *backoff = (*backoff * 2).min(Duration::from_secs(5));
        if self.client.is_closed() {
            match connect(&self.config.url).await {
                Ok(client) => self.client = client,
                Err(e) => tracing::warn!(error = %e, "reconnecting to PostgreSQL failed; retrying"),
            }
        }
        Ok(())
    }
}

/// Runs `statements` (table set-up) in one transaction that holds
/// streambench's set-up lock: `CREATE TABLE IF NOT EXISTS` of a table that
/// concurrent runs share races with itself otherwise (one of them fails on
/// a unique constraint of the catalogue).
pub async fn create_serialised(client: &mut Client, statements: &[String]) -> Result<()> {
    let transaction = client
        .transaction()
        .await
        .map_err(Error::postgres("starting the table set-up"))?;
    transaction
        .execute("SELECT pg_advisory_xact_lock(2026112401)", &[])
        .await
        .map_err(Error::postgres("locking for table set-up"))?;
    for statement in statements {
        transaction
            .batch_execute(statement)
            .await
            .map_err(Error::postgres(format!("creating tables: {statement}")))?;
    }
    transaction
        .commit()
        .await
        .map_err(Error::postgres("committing the table set-up"))
}

/// Connects to `url`, with the password kept out of any message.
pub async fn connect(url: &str) -> Result<Client> {
    let shown = redact_url(url);
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| Error::Config(format!("bad PostgreSQL URL {shown}: {e}")))?;
    config.connect_timeout(Duration::from_secs(10));
    let (client, connection) = config.connect(NoTls).await.map_err(Error::postgres(format!(
        "connecting to {shown} (is it running? `streambench stack up` starts one, or pass --postgres URL)"
    )))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// Whether `error` comes from an outage (lost connection, server shutting
/// down or starting) rather than from the request itself.
fn is_transient(error: &Error, client: &Client) -> bool {
    match error {
        Error::Postgres { error: source, .. } => {
            client.is_closed()
                || source.is_closed()
                || source.code().is_some_and(|code| {
                    let code = code.code();
                    code.starts_with("08") || code.starts_with("57P") || code.starts_with("53")
                })
                // No SQLSTATE: an outage only if the network said so; a
                // value the client cannot encode fails the same way every time.
                || (source.code().is_none() && caused_by_io(source))
        }
        _ => false,
    }
}

/// Whether an I/O error is among `error`'s causes.
fn caused_by_io(error: &tokio_postgres::Error) -> bool {
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        if inner.is::<std::io::Error>() {
            return true;
        }
        cause = inner.source();
    }
    false
}

fn results_sql(config: &SinkConfig) -> String {
    if config.job.window.is_per_event() {
        return event_rows_sql(config);
    }
    let job = &config.job;
    let keys: Vec<String> = job.key_columns().iter().map(|c| quoted(&c.name)).collect();
    let mut columns = keys.clone();
    let mut types: Vec<&str> = job
        .key_columns()
        .iter()
        .map(|c| tables::sql_type(c.kind))
        .collect();
    for column in ["window_start_ms", "window_end_ms", "revision"] {
        columns.push(column.into());
        types.push("bigint");
    }
    for column in job.result_aggregates() {
        columns.push(quoted(&column.column));
        types.push(tables::column_type(&column));
    }
    // `$1` is the engine; the columns' arrays follow.
    let arrays: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{}[]", i + 2, t.replace("double precision", "float8")))
        .collect();
    let table = quoted(&config.tables.results);
    let mut sql = format!(
        "INSERT INTO {table} ({}, engine) SELECT u.*, $1 FROM UNNEST({}) AS u",
        columns.join(", "),
        arrays.join(", ")
    );
    if config.mode == DeliveryMode::Upsert {
        // An older revision never overwrites a newer one, whatever order
        // retries and restarts deliver them in.
        let updated: Vec<&str> = columns[keys.len() + 2..].iter().map(String::as_str).collect();
        sql.push_str(&format!(
            " ON CONFLICT ({}, window_start_ms, window_end_ms) DO UPDATE SET {} \
             WHERE {table}.revision <= EXCLUDED.revision",
            keys.join(", "),
            overwrite(&updated)
        ));
    }
    sql
}

/// The `SET` list of an upsert: `columns` and the engine from the new row,
/// and a new insert time.
fn overwrite(columns: &[&str]) -> String {
    let updates: Vec<String> = columns
        .iter()
        .chain(["engine"].iter())
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    format!("{}, inserted_at = clock_timestamp()", updates.join(", "))
}

/// The statement writing per-event rows, one array per column
/// ([`tables::event_columns`]); in upsert mode a row already there is
/// overwritten (it can only hold the same values).
fn event_rows_sql(config: &SinkConfig) -> String {
    let columns = tables::event_columns(&config.job);
    let names: Vec<String> = columns.iter().map(|(name, _)| quoted(name)).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| format!("${}::{kind}[]", i + 1))
        .collect();
    let mut sql = format!(
        "INSERT INTO {} ({}, engine) SELECT u.*, ${} FROM UNNEST({}) AS u",
        quoted(&config.tables.results),
        names.join(", "),
        arrays.len() + 1,
        arrays.join(", ")
    );
    if config.mode == DeliveryMode::Upsert {
        let updated: Vec<&str> = names[1..].iter().map(String::as_str).collect();
        sql.push_str(&format!(
            " ON CONFLICT (event_id) DO UPDATE SET {}",
            overwrite(&updated)
        ));
    }
    sql
}

/// Writes the four parts of `batch` inside `client`'s open transaction.
async fn write_batch(
    client: &impl GenericClient,
    config: &SinkConfig,
    results: &ResultsStatement,
    batch: &OutputBatch,
) -> Result<()> {
    if !batch.results.is_empty() {
        write_results(client, config, results, &batch.results).await?;
    }
    if !batch.rows.is_empty() {
        write_event_rows(client, config, results, &batch.rows).await?;
    }
    if !batch.late.is_empty() {
        let late = &batch.late;
        let partitions: Vec<i32> = late.iter().map(|l| l.partition).collect();
        let offsets: Vec<i64> = late.iter().map(|l| l.offset).collect();
        let ids: Vec<i64> = late.iter().map(|l| l.event_id as i64).collect();
        let keys: Vec<i64> = late.iter().map(|l| l.key as i64).collect();
        let times: Vec<i64> = late.iter().map(|l| l.event_time_ms).collect();
        let watermarks: Vec<i64> = late.iter().map(|l| l.watermark_ms).collect();
        client
            .execute(
                &format!(
                    "INSERT INTO {} (partition, \"offset\", event_id, key, event_time_ms, watermark_ms) \
                     SELECT * FROM UNNEST($1::int4[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[]) \
                     ON CONFLICT DO NOTHING",
                    quoted(&config.tables.late)
                ),
                &[&partitions, &offsets, &ids, &keys, &times, &watermarks],
            )
            .await
            .map_err(Error::postgres("writing late events"))?;
    }
    if !batch.dead_letters.is_empty() {
        let dead = &batch.dead_letters;
        let partitions: Vec<i32> = dead.iter().map(|d| d.partition).collect();
        let offsets: Vec<i64> = dead.iter().map(|d| d.offset).collect();
        let raw: Vec<&[u8]> = dead.iter().map(|d| d.raw.as_slice()).collect();
        // PostgreSQL text cannot hold NUL.
        let errors: Vec<String> = dead.iter().map(|d| d.error.replace('\0', "\\0")).collect();
        client
            .execute(
                &format!(
                    "INSERT INTO {} (partition, \"offset\", raw, error) \
                     SELECT * FROM UNNEST($1::int4[], $2::int8[], $3::bytea[], $4::text[]) ON CONFLICT DO NOTHING",
                    quoted(&config.tables.dead_letters)
                ),
                &[&partitions, &offsets, &raw, &errors],
            )
            .await
            .map_err(Error::postgres("writing dead letters"))?;
    }
    Ok(())
}

async fn write_event_rows(
    client: &impl GenericClient,
    config: &SinkConfig,
    statement: &ResultsStatement,
    rows: &[EventRow],
) -> Result<()> {
    // One statement may not upsert a row twice.
    let rows: Vec<&EventRow> = if config.mode == DeliveryMode::Upsert {
        let unique: BTreeMap<u64, &EventRow> = rows.iter().map(|r| (r.event_id, r)).collect();
        unique.into_values().collect()
    } else {
        rows.iter().collect()
    };
    let column = |field: fn(&EventRow) -> i64| rows.iter().map(|r| field(r)).collect::<Vec<i64>>();
    let ids = column(|r| r.event_id as i64);
    let times = column(|r| r.event_time_ms);
    let key_ids: Vec<u64> = rows.iter().map(|r| r.key).collect();
    let keys = key_arrays(statement.named_key.as_deref(), &config.key_names, &key_ids)?;
    let ads = column(|r| r.ad_id as i64);
    let users = column(|r| r.user_id as i64);
    let counts = column(|r| r.count);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ids, &times];
    params.extend(keys.iter().map(|column| column.as_ref()));
    params.extend([&ads as &(dyn ToSql + Sync), &users, &counts, &config.engine]);
    client
        .execute(&statement.sql, &params)
        .await
        .map_err(Error::postgres(format!(
            "writing rows to {}",
            config.tables.results
        )))?;
    Ok(())
}

async fn write_results(
    client: &impl GenericClient,
    config: &SinkConfig,
    statement: &ResultsStatement,
    results: &[WindowResult],
) -> Result<()> {
    // One statement may not upsert a row twice: keep each window's latest.
    let rows: Vec<&WindowResult> = if config.mode == DeliveryMode::Upsert {
        let mut latest: BTreeMap<_, &WindowResult> = BTreeMap::new();
        for result in results {
            let kept = latest.entry(result.window).or_insert(result);
            if result.revision >= kept.revision {
                *kept = result;
            }
        }
        latest.into_values().collect()
    } else {
        results.iter().collect()
    };
    let key_ids: Vec<u64> = rows.iter().map(|r| r.window.key).collect();
    let keys = key_arrays(statement.named_key.as_deref(), &config.key_names, &key_ids)?;
    let starts: Vec<i64> = rows.iter().map(|r| r.window.window_start_ms).collect();
    let ends: Vec<i64> = rows.iter().map(|r| r.window.window_end_ms).collect();
    let revisions: Vec<i64> = rows.iter().map(|r| r.revision).collect();
    let aggregates: Vec<Box<dyn ToSql + Sync>> = statement
        .columns
        .iter()
        .map(|column| column_array(column, rows.iter().map(|r| &r.aggregate)))
        .collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&config.engine];
    params.extend(keys.iter().map(|column| column.as_ref()));
    params.extend([&starts as &(dyn ToSql + Sync), &ends, &revisions]);
    params.extend(aggregates.iter().map(|column| column.as_ref()));
    client
        .execute(&statement.sql, &params)
        .await
        .map_err(Error::postgres(format!(
            "writing results to {}",
            config.tables.results
        )))?;
    Ok(())
}

/// The key columns of rows whose keys are `ids`, as the arrays they are written from: the
/// whole-number `key`, or each column of a key carried by id, from `names`.
fn key_arrays(
    named: Option<&[KeyColumn]>,
    names: &KeyNames,
    ids: &[u64],
) -> Result<Vec<Box<dyn ToSql + Sync>>> {
    let Some(columns) = named else {
        let keys: Vec<i64> = ids.iter().map(|id| *id as i64).collect();
        return Ok(vec![Box::new(keys)]);
    };
    let mut keys = Vec::with_capacity(ids.len());
    for id in ids {
        let values = names
            .get(*id)
            .ok_or_else(|| Error::Internal(format!("no values noted for key id {id}")))?;
        keys.push(values);
    }
    Ok((0..columns.len())
        .map(|i| tables::value_array(columns[i].kind, keys.iter().map(|k| &k[i])))
        .collect())
}
