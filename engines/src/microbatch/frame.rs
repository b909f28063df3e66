//! One micro-batch as a polars DataFrame: records decoded into columns, then
//! filtered, enriched (a join with the campaign table for `ysb`), split into
//! late and on-time rows by the watermark in force, assigned to windows and
//! aggregated, all as polars expressions.

use std::collections::BTreeMap;
use std::sync::Arc;

use polars::prelude::*;
use streambench_workloads::declared_run::RecordPlan;
use streambench_workloads::distinct::{DistinctValues, FieldSet};
use streambench_workloads::event::{AdEventType, DecodeError, Event, EventKind, decode};
use streambench_workloads::format::Format;
use streambench_workloads::job::{Aggregate, CampaignTable, Filter, JobSpec, KeyBy, fields_read_by};
use streambench_workloads::key_names::KeyNames;
use streambench_workloads::window::{FieldAggregate, Keyed, WindowAggregate, WindowKey, WindowSpec};

use crate::output::{DeadLetter, LateEvent};
use crate::record::record_plan;

/// A record as read from Kafka, owned so a batch outlives the poll that read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its value, if it has one.
    pub payload: Option<Vec<u8>>,
}

/// A batch's decoded events, column by column.
#[derive(Debug, Default)]
pub struct Columns {
    event_id: Vec<u64>,
    event_time_ms: Vec<i64>,
    source_key: Vec<u64>,
    value: Vec<i64>,
    /// The other fields a declared job aggregates ([`Keyed::more`]), one
    /// column per field it reads beyond the first.
    more: Vec<Vec<i64>>,
    event_type: Vec<i32>,
    partition: Vec<i32>,
    offset: Vec<i64>,
    /// Whether a record plan made them ([`Decode::Declared`]): the job's
    /// filter and join are applied and `source_key` is its key already.
    keyed: bool,
}

impl Columns {
    /// Events decoded.
    pub fn len(&self) -> usize {
        self.event_id.len()
    }

    /// Whether no event was decoded.
    pub fn is_empty(&self) -> bool {
        self.event_id.is_empty()
    }

    /// Moves `other`'s events after these.
    pub fn append(&mut self, mut other: Columns) {
        self.event_id.append(&mut other.event_id);
        self.event_time_ms.append(&mut other.event_time_ms);
        self.source_key.append(&mut other.source_key);
        self.value.append(&mut other.value);
        if self.more.len() < other.more.len() {
            self.more.resize(other.more.len(), Vec::new());
        }
        for (mine, theirs) in self.more.iter_mut().zip(&mut other.more) {
            mine.append(theirs);
        }
        self.event_type.append(&mut other.event_type);
        self.partition.append(&mut other.partition);
        self.offset.append(&mut other.offset);
        self.keyed |= other.keyed;
    }
}

fn event_type_code(event_type: AdEventType) -> i32 {
    match event_type {
        AdEventType::View => 0,
        AdEventType::Click => 1,
        AdEventType::Purchase => 2,
    }
}

/// How a job's records become columns: decoded as a built-in kind of event,
/// or through the record plan of a job a suite declares (decoded by its
/// schema, filtered, derived, joined and keyed as it is read).
#[derive(Debug, Clone)]
pub enum Decode {
    /// A built-in kind; the catalogue job's filter and key are applied to
    /// the batch's frame.
    Kind(EventKind),
    /// A record plan, compiled once: a declared job's, or a catalogue
    /// job's declared form.
    Declared(Arc<RecordPlan>),
}

impl Decode {
    /// How `job`'s records are decoded on a workload of `seed` with `keys`
    /// keys; the error says why a declared job cannot run. A catalogue job
    /// with a filter or a table (`ysb`) is decoded as its kind and filtered
    /// and joined on the batch's frame, as Spark does (through its record
    /// plan it read 0.86 times as fast); the others go through their record
    /// plan, as a suite's own jobs do; so does every job on records not in
    /// JSON. Keys carried by id are noted in `names`.
    pub fn of(
        job: &JobSpec,
        seed: u64,
        keys: u64,
        format: Format,
        names: &Arc<KeyNames>,
    ) -> crate::error::Result<Decode> {
        let frame_work = job.declared.is_none() && (job.filter.is_some() || job.key != KeyBy::Key);
        if frame_work && format == Format::Json {
            return Ok(Decode::Kind(job.input));
        }
        Ok(Decode::Declared(record_plan(job, seed, keys, format, names)?))
    }
}

/// Decodes `records` straight into columns (typed, borrowing decoding: no
/// intermediate JSON values); records that are not events become dead letters.
pub fn decode_batch(decode: &Decode, records: &[OwnedRecord]) -> (Columns, Vec<DeadLetter>) {
    let mut decoder = BatchDecoder::new(decode.clone());
    for record in records {
        decoder.push(record.partition, record.offset, record.payload.as_deref());
    }
    decoder.finish()
}

/// [`decode_batch`] one record at a time, so that a batch is decoded while
/// it is still being read, straight from the consumer's buffer.
#[derive(Debug)]
pub struct BatchDecoder {
    decode: Decode,
    columns: Columns,
    dead: Vec<DeadLetter>,
}

impl BatchDecoder {
    /// A decoder of events as `decode` says, with nothing decoded yet.
    pub fn new(decode: Decode) -> BatchDecoder {
        // One column per field the job aggregates beyond the first.
        let more_fields = match &decode {
            Decode::Declared(plan) => plan.value_decimals().len().saturating_sub(1),
            Decode::Kind(_) => 0,
        };
        BatchDecoder {
            columns: Columns {
                more: vec![Vec::new(); more_fields],
                keyed: matches!(decode, Decode::Declared(_)),
                ..Columns::default()
            },
            decode,
            dead: Vec::new(),
        }
    }

    /// Decodes the record at `offset` of `partition` into the columns, or
    /// keeps it as a dead letter.
    pub fn push(&mut self, partition: i32, offset: i64, payload: Option<&[u8]>) {
        let Some(payload) = payload else {
            self.dead.push(DeadLetter {
                partition,
                offset,
                raw: Vec::new(),
                error: "record has no value".into(),
            });
            return;
        };
        let kind = match &self.decode {
            Decode::Kind(kind) => *kind,
            Decode::Declared(plan) => {
                let read = plan.interpret(payload);
                return self.push_declared(read, partition, offset, payload);
            }
        };
        match decode(kind, payload) {
            Ok(event) => {
                let (key, value, event_type) = match &event {
                    Event::Ad(ad) => (ad.ad_id, 1, event_type_code(ad.event_type)),
                    Event::Measurement(m) => (m.key, m.value, -1),
                };
                let columns = &mut self.columns;
                columns.event_id.push(event.event_id());
                columns.event_time_ms.push(event.event_time_ms());
                columns.source_key.push(key);
                columns.value.push(value);
                columns.event_type.push(event_type);
                columns.partition.push(partition);
                columns.offset.push(offset);
            }
            Err(error) => self.dead.push(DeadLetter {
                partition,
                offset,
                raw: payload.to_vec(),
                error: error.to_string(),
            }),
        }
    }

    /// Adds what a declared job's plan `read` from a record: what it kept
    /// goes into the columns already keyed, what it dropped is counted
    /// nowhere (as the catalogue's filter drops), what did not decode is a
    /// dead letter.
    fn push_declared(
        &mut self,
        read: Result<Option<Keyed>, DecodeError>,
        partition: i32,
        offset: i64,
        payload: &[u8],
    ) {
        match read {
            Ok(Some(kept)) => {
                let columns = &mut self.columns;
                columns.event_id.push(kept.event_id);
                columns.event_time_ms.push(kept.event_time_ms);
                columns.source_key.push(kept.key);
                columns.value.push(kept.value);
                for (column, value) in columns.more.iter_mut().zip(kept.more) {
                    column.push(value);
                }
                columns.event_type.push(-1);
                columns.partition.push(partition);
                columns.offset.push(offset);
            }
            Ok(None) => {}
            Err(error) => self.dead.push(DeadLetter {
                partition,
                offset,
                raw: payload.to_vec(),
                error: error.to_string(),
            }),
        }
    }

    /// The columns and the dead letters.
    pub fn finish(self) -> (Columns, Vec<DeadLetter>) {
        (self.columns, self.dead)
    }
}

/// The campaign table as a DataFrame, for the `ysb` join.
pub fn campaign_frame(campaigns: &CampaignTable) -> PolarsResult<DataFrame> {
    let (ads, owners): (Vec<u64>, Vec<u64>) = campaigns.pairs().unzip();
    DataFrame::new(
        ads.len(),
        vec![
            Column::new("source_key".into(), ads),
            Column::new("key".into(), owners),
        ],
    )
}

/// What one batch's events add up to.
#[derive(Debug, Default)]
pub struct BatchAggregate {
    /// Per window of this batch's on-time events: their aggregate.
    pub windows: Vec<(WindowKey, WindowAggregate)>,
    /// Events too late for every window.
    pub late: Vec<LateEvent>,
    /// Per partition: the latest event time the job kept from it, for the
    /// next watermark (partitions it kept nothing from are absent).
    pub max_event_time_ms: BTreeMap<i32, i64>,
    /// Events the job kept.
    pub kept: usize,
}

/// Filters, keys, splits off late events and aggregates `columns` by
/// window, with `watermark_ms` the watermark in force for the batch.
pub fn aggregate(
    job: &JobSpec,
    columns: Columns,
    campaigns: &DataFrame,
    watermark_ms: Option<i64>,
) -> PolarsResult<BatchAggregate> {
    if columns.is_empty() {
        return Ok(BatchAggregate::default());
    }
    let (height, keyed) = (columns.len(), columns.keyed);
    let more = columns.more;
    let more_fields = more.len();
    let mut frame_columns = vec![
        Column::new("event_id".into(), columns.event_id),
        Column::new("event_time_ms".into(), columns.event_time_ms),
        Column::new("source_key".into(), columns.source_key),
        Column::new("value".into(), columns.value),
        Column::new("event_type".into(), columns.event_type),
        Column::new("partition".into(), columns.partition),
        Column::new("offset".into(), columns.offset),
    ];
    for (i, values) in more.into_iter().enumerate() {
        frame_columns.push(Column::new(more_name(i).into(), values));
    }
    let frame = DataFrame::new(height, frame_columns)?;
    let mut events = frame.lazy();
    if let (Some(Filter::AdEventType(wanted)), false) = (job.filter, keyed) {
        events = events.filter(col("event_type").eq(lit(event_type_code(wanted))));
    }
    events = match (job.key, keyed) {
        (_, true) | (KeyBy::Key, _) => events.with_column(col("source_key").alias("key")),
        (KeyBy::Campaign, _) => events.join(
            campaigns.clone().lazy(),
            [col("source_key")],
            [col("source_key")],
            JoinArgs::new(JoinType::Inner),
        ),
        (KeyBy::User, _) => {
            polars_bail!(ComputeError: "the micro-batch engine keys windows by key or campaign, not by user")
        }
    };
    let kept = events.collect()?;
    let per_partition = kept
        .clone()
        .lazy()
        .group_by([col("partition")])
        .agg([col("event_time_ms").max()])
        .collect()?;
    let max_event_time_ms: BTreeMap<i32, i64> = per_partition
        .column("partition")?
        .i32()?
        .iter()
        .zip(per_partition.column("event_time_ms")?.i64()?.iter())
        .filter_map(|(partition, max)| Some((partition?, max?)))
        .collect();
    let kept_count = kept.height();

    let lateness = job.allowed_lateness_ms;
    let (size, slide) = match job.window {
        WindowSpec::Tumbling { size_ms } => (size_ms, size_ms),
        WindowSpec::Sliding { size_ms, slide_ms } => (size_ms, slide_ms),
        WindowSpec::Session { gap_ms } => (gap_ms, 0),
        WindowSpec::Each | WindowSpec::Burst { .. } => {
            polars_bail!(ComputeError: "a per-event job is evaluated against its rule's state, not aggregated")
        }
    };
    let time = || col("event_time_ms");
    // The latest window start holding each event (fixed windows), and the
    // latest end of any of its windows.
    let last_start = || time() - ((time() % lit(slide) + lit(slide)) % lit(slide));
    let last_end = if slide == 0 {
        time() + lit(size)
    } else {
        last_start() + lit(size)
    };
    let (on_time, late) = match watermark_ms {
        Some(w) => {
            let is_late = (last_end + lit(lateness)).lt_eq(lit(w));
            let late = kept.clone().lazy().filter(is_late.clone()).collect()?;
            (kept.lazy().filter(is_late.not()), late)
        }
        None => (kept.lazy(), DataFrame::empty()),
    };

    // A field of text counted distinct is carried by id; ids are not
    // summed (their sum would overflow, and no column reads it).
    let (distinct, summed) = match job.aggregates.contains(&Aggregate::CountDistinct) {
        true => {
            let columns = job.result_aggregates();
            let summed = fields_read_by(&columns, &[Aggregate::Sum, Aggregate::Mean]);
            (fields_read_by(&columns, &[Aggregate::CountDistinct]), summed)
        }
        false => (FieldSet::NONE, FieldSet::ALL),
    };
    let mut aggregates = vec![
        len().cast(DataType::Int64).alias("count"),
        sum_of("value", summed.contains(0)).alias("sum"),
        col("value").min().alias("min"),
        col("value").max().alias("max"),
        time().min().alias("first"),
        time().max().alias("last"),
    ];
    let ends = job
        .aggregates
        .iter()
        .any(|a| matches!(a, Aggregate::FirstValue | Aggregate::LastValue));
    if ends {
        aggregates.extend(end_events());
    }
    for i in 0..more_fields {
        aggregates.extend(more_aggregates(i, ends, summed.contains(i + 1)));
    }
    aggregates.extend(distinct.fields().map(distinct_values));
    let grouped = match job.window {
        WindowSpec::Session { gap_ms } => {
            // Sessions within the batch: rows sorted by key and time, a new
            // session wherever the key changes or the gap is exceeded (one
            // pass over the sorted columns, as Spark's session merge does).
            let mut sorted = on_time
                .sort(["key", "event_time_ms"], SortMultipleOptions::default())
                .collect()?;
            let sessions = {
                let keys = sorted.column("key")?.u64()?;
                let times = sorted.column("event_time_ms")?.i64()?;
                let mut ids = Vec::with_capacity(sorted.height());
                let mut id = 0i64;
                let mut previous: Option<(Option<u64>, i64)> = None;
                for (k, t) in keys.iter().zip(times.iter()) {
                    let t = t.unwrap_or_default();
                    if let Some((pk, pt)) = previous
                        && (pk != k || t - pt > gap_ms)
                    {
                        id += 1;
                    }
                    previous = Some((k, t));
                    ids.push(id);
                }
                Column::new("session".into(), ids)
            };
            sorted.with_column(sessions)?;
            sorted
                .lazy()
                .group_by([col("key"), col("session")])
                .agg(aggregates)
                .with_columns([
                    col("first").alias("window_start"),
                    (col("last") + lit(gap_ms)).alias("window_end"),
                ])
        }
        _ => {
            let copies: Vec<LazyFrame> = (0..size / slide)
                .map(|k| {
                    on_time
                        .clone()
                        .with_column((last_start() - lit(k * slide)).alias("window_start"))
                })
                .collect();
            let mut assigned = concat(copies, UnionArgs::default())?
                .with_column((col("window_start") + lit(size)).alias("window_end"));
            if let Some(w) = watermark_ms {
                // A window past end + lateness takes no more events.
                assigned = assigned.filter((col("window_end") + lit(lateness)).gt(lit(w)));
            }
            assigned
                .group_by([col("key"), col("window_start"), col("window_end")])
                .agg(aggregates)
        }
    }
    .collect()?;

    let mut windows = Vec::with_capacity(grouped.height());
    let key = grouped.column("key")?.u64()?;
    let start = grouped.column("window_start")?.i64()?;
    let end = grouped.column("window_end")?.i64()?;
    let count = grouped.column("count")?.i64()?;
    let sum = grouped.column("sum")?.i64()?;
    let min = grouped.column("min")?.i64()?;
    let max = grouped.column("max")?.i64()?;
    let first = grouped.column("first")?.i64()?;
    let last = grouped.column("last")?.i64()?;
    let ends = match ends {
        true => Some(EndEvents::of(&grouped)?),
        false => None,
    };
    let more = (0..more_fields)
        .map(|field| MoreColumns::of(&grouped, field, ends.is_some()))
        .collect::<PolarsResult<Vec<_>>>()?;
    let distinct = distinct
        .fields()
        .map(|field| Ok((field, grouped.column(&distinct_name(field))?.list()?)))
        .collect::<PolarsResult<Vec<_>>>()?;
    for i in 0..grouped.height() {
        let value = |c: &Int64Chunked| c.get(i).unwrap_or_default();
        let mut aggregate = WindowAggregate {
            count: value(count),
            sum: value(sum),
            min: value(min),
            max: value(max),
            first_event_time_ms: value(first),
            last_event_time_ms: value(last),
            ..WindowAggregate::default()
        };
        if let Some(ends) = &ends {
            ends.fill(i, &mut aggregate);
        }
        for (field, columns) in more.iter().enumerate() {
            aggregate.more[field] = columns.get(i);
        }
        for (field, lists) in &distinct {
            aggregate.distinct.push(distinct_of(*field, lists, i)?);
        }
        windows.push((
            WindowKey {
                key: key.get(i).unwrap_or_default(),
                window_start_ms: value(start),
                window_end_ms: value(end),
            },
            aggregate,
        ));
    }

    let mut late_events = Vec::with_capacity(late.height());
    if late.height() > 0 {
        let partition = late.column("partition")?.i32()?;
        let offset = late.column("offset")?.i64()?;
        let id = late.column("event_id")?.u64()?;
        let key = late.column("key")?.u64()?;
        let time = late.column("event_time_ms")?.i64()?;
        for i in 0..late.height() {
            late_events.push(LateEvent {
                partition: partition.get(i).unwrap_or_default(),
                offset: offset.get(i).unwrap_or_default(),
                event_id: id.get(i).unwrap_or_default(),
                key: key.get(i).unwrap_or_default(),
                event_time_ms: time.get(i).unwrap_or_default(),
                watermark_ms: watermark_ms.unwrap_or(i64::MIN),
            });
        }
    }
    Ok(BatchAggregate {
        windows,
        late: late_events,
        max_event_time_ms,
        kept: kept_count,
    })
}

/// The aggregates giving each window's first and last events (by event
/// time, then event id): their ids and values.
fn end_events() -> [Expr; 4] {
    [
        in_event_order("event_id").first().alias("first_id"),
        in_event_order("value").first().alias("first_value"),
        in_event_order("event_id").last().alias("last_id"),
        in_event_order("value").last().alias("last_value"),
    ]
}

/// The column `name` ordered by event time, then event id: the order in
/// which a window's first and last events are taken.
fn in_event_order(name: &str) -> Expr {
    col(name).sort_by(
        [col("event_time_ms"), col("event_id")],
        SortMultipleOptions::default(),
    )
}

/// The frame's column of the `i`-th field a job aggregates beyond the first.
fn more_name(i: usize) -> String {
    format!("value_{}", i + 1)
}

/// The sum of the column `name`, or 0 when it is not `summed`.
fn sum_of(name: &str, summed: bool) -> Expr {
    match summed {
        true => col(name).sum(),
        false => lit(0i64).cast(DataType::Int64),
    }
}

/// The aggregates of the `i`-th field beyond the first: sum (if `summed`),
/// min, max and, with `ends`, the values of the first and last events.
fn more_aggregates(i: usize, ends: bool, summed: bool) -> Vec<Expr> {
    let name = more_name(i);
    let mut aggregates = vec![
        sum_of(&name, summed).alias(format!("{name}_sum")),
        col(&name).min().alias(format!("{name}_min")),
        col(&name).max().alias(format!("{name}_max")),
    ];
    if ends {
        aggregates.push(in_event_order(&name).first().alias(format!("{name}_first")));
        aggregates.push(in_event_order(&name).last().alias(format!("{name}_last")));
    }
    aggregates
}

/// The frame's column of the job's value field `field` (0 for the first).
fn value_name(field: usize) -> String {
    match field {
        0 => "value".into(),
        _ => more_name(field - 1),
    }
}

/// The aggregated column of value field `field`'s distinct values.
fn distinct_name(field: usize) -> String {
    format!("{}_distinct", value_name(field))
}

/// The distinct values of value field `field` in each window, as a list.
fn distinct_values(field: usize) -> Expr {
    col(value_name(field)).unique().alias(distinct_name(field))
}

/// Row `i`'s distinct values of `field`, read back from [`distinct_values`].
fn distinct_of(field: usize, lists: &ListChunked, i: usize) -> PolarsResult<DistinctValues> {
    let values = match lists.get_as_series(i) {
        Some(list) => list.i64()?.into_no_null_iter().collect(),
        None => Default::default(),
    };
    Ok(DistinctValues { field, values })
}

/// The columns [`more_aggregates`] gives for one field, read back.
struct MoreColumns<'a> {
    sum: &'a Int64Chunked,
    min: &'a Int64Chunked,
    max: &'a Int64Chunked,
    ends: Option<(&'a Int64Chunked, &'a Int64Chunked)>,
}

impl<'a> MoreColumns<'a> {
    fn of(grouped: &'a DataFrame, i: usize, ends: bool) -> PolarsResult<MoreColumns<'a>> {
        let name = more_name(i);
        let column = |what: &str| grouped.column(&format!("{name}_{what}"))?.i64();
        Ok(MoreColumns {
            sum: column("sum")?,
            min: column("min")?,
            max: column("max")?,
            ends: match ends {
                true => Some((column("first")?, column("last")?)),
                false => None,
            },
        })
    }

    /// Row `i`'s aggregates of the field.
    fn get(&self, i: usize) -> FieldAggregate {
        let value = |c: &Int64Chunked| c.get(i).unwrap_or_default();
        FieldAggregate {
            sum: value(self.sum),
            min: value(self.min),
            max: value(self.max),
            first: self.ends.map_or(0, |(first, _)| value(first)),
            last: self.ends.map_or(0, |(_, last)| value(last)),
        }
    }
}

/// The columns [`end_events`] gives, read back.
struct EndEvents<'a> {
    first_id: &'a UInt64Chunked,
    first_value: &'a Int64Chunked,
    last_id: &'a UInt64Chunked,
    last_value: &'a Int64Chunked,
}

impl<'a> EndEvents<'a> {
    fn of(grouped: &'a DataFrame) -> PolarsResult<EndEvents<'a>> {
        Ok(EndEvents {
            first_id: grouped.column("first_id")?.u64()?,
            first_value: grouped.column("first_value")?.i64()?,
            last_id: grouped.column("last_id")?.u64()?,
            last_value: grouped.column("last_value")?.i64()?,
        })
    }

    /// Sets row `i`'s first and last events in `aggregate`.
    fn fill(&self, i: usize, aggregate: &mut WindowAggregate) {
        aggregate.first_event_id = self.first_id.get(i).unwrap_or_default();
        aggregate.first_value = self.first_value.get(i).unwrap_or_default();
        aggregate.last_event_id = self.last_id.get(i).unwrap_or_default();
        aggregate.last_value = self.last_value.get(i).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streambench_workloads::generator::{EventClass, Generator, WorkloadSpec};
    use streambench_workloads::job::catalogue_job;
    use streambench_workloads::window::windows_of;

    fn records(generator: &Generator) -> Vec<OwnedRecord> {
        let mut bytes = Vec::new();
        (0..generator.len())
            .map(|i| {
                let generated = generator.write_record(i, &mut bytes);
                OwnedRecord {
                    partition: generated.partition as i32,
                    offset: i as i64,
                    payload: Some(bytes.clone()),
                }
            })
            .collect()
    }

    /// One batch with no watermark yet: every job's windows equal the oracle's
    /// for the kept events (sessions within one batch need no merging), in
    /// every format (in Avro, `ysb` is filtered and joined by its plan).
    #[test]
    fn a_single_batch_aggregates_exactly_as_the_oracle_does() {
        for format in Format::ALL {
            aggregates_exactly_as_the_oracle_does(format);
        }
    }

    fn aggregates_exactly_as_the_oracle_does(format: Format) {
        let spec = WorkloadSpec {
            events: Some(20_000),
            keys: 300,
            malformed_fraction: 0.01,
            format,
            ..WorkloadSpec::default()
        };
        for name in ["ysb", "tumbling", "sliding", "session"] {
            let job = catalogue_job(name).expect("job");
            let generator = Generator::new(spec.clone(), job.input, 1_700_000_000_000).expect("spec");
            let campaigns = CampaignTable::new(spec.seed, spec.keys);
            let (columns, dead) = decode_batch(
                &Decode::of(&job, spec.seed, spec.keys, spec.format, &KeyNames::shared())
                    .expect("a catalogue job"),
                &records(&generator),
            );
            let malformed = (0..generator.len())
                .filter(|&i| matches!(generator.generate(i).class, EventClass::Malformed(_)))
                .count();
            assert_eq!(dead.len(), malformed, "{name}");
            let result =
                aggregate(&job, columns, &campaign_frame(&campaigns).expect("frame"), None).expect("batch");
            let kept: Vec<_> = (0..generator.len())
                .map(|i| generator.generate(i))
                .filter(|g| !matches!(g.class, EventClass::Malformed(_)))
                .filter_map(|g| job.extract(&g.event, &campaigns))
                .collect();
            assert_eq!(result.kept, kept.len(), "{name}");
            // Compared on the job's aggregates, as the check compares rows
            // (a session's plan carries no value: it aggregates none).
            let on_its_columns = |windows: BTreeMap<_, WindowAggregate>| -> BTreeMap<_, Vec<f64>> {
                windows
                    .into_iter()
                    .map(|(key, aggregate)| (key, job_columns(&job, &aggregate)))
                    .collect()
            };
            let expected = on_its_columns(windows_of(&job.window, &kept));
            let got = on_its_columns(result.windows.into_iter().collect());
            assert_eq!(got.len(), expected.len(), "{name}");
            assert_eq!(got, expected, "{name}");
        }
    }

    /// The values of `job`'s result columns for `aggregate`.
    fn job_columns(job: &JobSpec, aggregate: &WindowAggregate) -> Vec<f64> {
        use streambench_workloads::window::AggregateValue;
        job.aggregates
            .iter()
            .map(|column| match aggregate.value_of(*column, 0) {
                AggregateValue::Whole(n) => n as f64,
                AggregateValue::Mean(mean) => mean,
            })
            .collect()
    }

    #[test]
    fn events_past_the_watermark_are_late_and_windows_past_it_take_nothing() {
        let job = JobSpec {
            window: WindowSpec::Sliding {
                size_ms: 30,
                slide_ms: 10,
            },
            ..catalogue_job("sliding").expect("job")
        };
        let event = |id: u64, t: i64| OwnedRecord {
            partition: 0,
            offset: id as i64,
            payload: Some(
                format!("{{\"event_id\":{id},\"event_time_ms\":{t},\"key\":1,\"value\":{id}}}").into_bytes(),
            ),
        };
        let (columns, dead) = decode_batch(
            &Decode::Kind(job.input),
            &[event(1, 5), event(2, 15), event(3, 45)],
        );
        assert!(dead.is_empty());
        let campaigns = campaign_frame(&CampaignTable::new(0, 0)).expect("frame");
        let result = aggregate(&job, columns, &campaigns, Some(30)).expect("batch");
        // t=5: windows end at 10, 20, 30: all closed at watermark 30 -> late.
        assert_eq!(
            result.late.iter().map(|l| l.event_id).collect::<Vec<_>>(),
            vec![1]
        );
        // t=15: [0,30) closed; [10,40) open. t=45: [20,50), [30,60), [40,70).
        let windows: Vec<(i64, i64)> = {
            let mut w: Vec<_> = result
                .windows
                .iter()
                .map(|(k, a)| (k.window_start_ms, a.count))
                .collect();
            w.sort();
            w
        };
        assert_eq!(windows, vec![(10, 1), (20, 1), (30, 1), (40, 1)]);
        assert_eq!(result.max_event_time_ms, BTreeMap::from([(0, 45)]));
    }
}
