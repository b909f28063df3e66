//! A declared job as the engines run it. The job is compiled once into a
//! [`RecordPlan`] (the schema's decoder, then the job's filter, derived
//! fields and table join, then its key and the fields it aggregates), which
//! turns each record into the same keyed event the catalogue's jobs give.
//! The engines' window operators, rules, sinks and checks then run it as
//! they run the catalogue: one code path from the keyed event on.
//!
//! What the engines' result tables hold bounds what a declared job may ask
//! for: a key of any fields but floats (or none), and aggregates over up to
//! [`MAX_VALUE_FIELDS`] fields: numbers (`count`, `sum`, `min`, `max`,
//! `mean`, `first`, `last`, `count_distinct`; a float only with `decimals`,
//! aggregated in their units, [`crate::decimals`]), text or booleans (only
//! `count_distinct`, [`crate::distinct`]), or the event time (`min`, `max`,
//! `first`, `last`).
//! A key of one whole number is the key itself; one of
//! text, a boolean or several fields is carried by id through the engines
//! and written as its own columns ([`crate::key_names`]), in windowed and
//! per-event (`each`, `burst`) tables alike. [`lower`] refuses anything else
//! before a run, saying why.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::compiled_row::CompiledRow;
use crate::decimals::to_units;
use crate::declared_job::{AggregateCall, DeclaredJob, Function};
use crate::declared_oracle::JobPlan;
use crate::event::{DecodeError, EventKind};
use crate::expr::{Type, Val};
use crate::format::Format;
use crate::job::{Aggregate, JobSpec, KeyBy, ResultAggregate};
use crate::key_names::{KeyNames, key_id};
use crate::per_event::EVENT_ROW_COLUMNS;
use crate::schema::EventSchema;
use crate::schema_decoder::SchemaDecoder;
use crate::window::{Keyed, MAX_VALUE_FIELDS, WindowSpec};

/// A declared job with the schema of its events: what a [`JobSpec`] of a
/// declared job carries, so that an engine child runs exactly the suite's job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declared {
    /// The schema's name in the suite.
    pub schema_name: String,
    /// The schema.
    pub schema: EventSchema,
    /// The job, as the suite declares it.
    pub job: DeclaredJob,
}

/// A column of a result table's key: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumn {
    /// The column's name: the key field's.
    pub name: String,
    /// Its type (whole number, text or boolean).
    pub kind: Type,
}

/// The columns every result table ends in: which engine wrote a row, when,
/// and (in its view) when the row was committed.
const BOOKKEEPING_COLUMNS: [&str; 3] = ["engine", "inserted_at", "emitted_at"];

/// The columns every windowed result table has besides its key and its
/// aggregates, which neither may be named.
const WINDOW_COLUMNS: [&str; 3] = ["window_start_ms", "window_end_ms", "revision"];

impl Declared {
    /// The key columns of the job's windowed result table: its key fields
    /// (`key`, always 0, when it has none).
    pub fn key_columns(&self) -> Vec<KeyColumn> {
        let Ok(plan) = JobPlan::new(&self.job, &self.schema) else {
            return Vec::new();
        };
        let columns: Vec<KeyColumn> = self
            .job
            .key
            .iter()
            .filter_map(|name| {
                let (_, kind) = plan.column(name)?;
                Some(KeyColumn {
                    name: name.clone(),
                    kind,
                })
            })
            .collect();
        match columns.is_empty() {
            true => vec![KeyColumn {
                name: "key".into(),
                kind: Type::Int,
            }],
            false => columns,
        }
    }

    /// The aggregates' columns in the job's result table, in order: each
    /// one's `as` name, else `function_field` (`count`).
    pub fn aggregate_columns(&self) -> Vec<String> {
        JobPlan::new(&self.job, &self.schema)
            .map(|plan| plan.calls().map(|c| c.column.clone()).collect())
            .unwrap_or_default()
    }

    /// The job's result columns, in order: what each computes, over which
    /// of the fields it reads, in what decimals, under what name.
    pub fn result_aggregates(&self) -> Vec<ResultAggregate> {
        let Ok(plan) = JobPlan::new(&self.job, &self.schema) else {
            return Vec::new();
        };
        let time = &self.schema.time;
        let Ok(fields) = value_fields(&plan, time) else {
            return Vec::new();
        };
        plan.calls()
            .filter_map(|call| {
                let aggregate = aggregate_of(call, time).ok()?;
                let at = call
                    .field
                    .as_deref()
                    .and_then(|f| plan.column(f))
                    .map(|(at, _)| at);
                let field = fields
                    .iter()
                    .position(|f| Some(f.at) == at)
                    .filter(|_| aggregate.reads_value());
                // A distinct count is a whole number whatever it counts.
                let counted = aggregate != Aggregate::CountDistinct;
                Some(ResultAggregate {
                    aggregate,
                    field: field.unwrap_or(0),
                    decimals: field.and_then(|i| fields[i].decimals()).filter(|_| counted),
                    column: call.column.clone(),
                })
            })
            .collect()
    }

    /// The key columns of the job's result table when its key is carried by
    /// id (text, a boolean or several fields); none when it is one whole
    /// number (the `key` column) or there is none.
    pub fn named_key(&self) -> Option<Vec<KeyColumn>> {
        let plan = JobPlan::new(&self.job, &self.schema).ok()?;
        match KeyPlan::new(&plan, &self.job.key).ok()? {
            KeyPlan::Named(_) => Some(self.key_columns()),
            _ => None,
        }
    }

    /// Why the result table's columns clash, if they do: a name given
    /// twice, or one of the table's own columns.
    fn check_columns(&self) -> Result<(), String> {
        // A per-event table's key is one `key` column unless it is named.
        let (own, mut columns): (Vec<&str>, Vec<String>) = match self.job.window.is_per_event() {
            true => (
                EVENT_ROW_COLUMNS.into_iter().filter(|c| *c != "key").collect(),
                self.named_key()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.name)
                    .collect(),
            ),
            false => (
                WINDOW_COLUMNS.to_vec(),
                self.key_columns().into_iter().map(|c| c.name).collect(),
            ),
        };
        let own: Vec<&str> = own.into_iter().chain(BOOKKEEPING_COLUMNS).collect();
        columns.extend(self.aggregate_columns());
        let mut seen: Vec<String> = own.iter().map(|c| c.to_string()).collect();
        for name in columns {
            if seen.contains(&name) {
                return Err(format!(
                    "the result table would have two columns `{name}` (its own columns are {}, then the key fields and the aggregates); name the aggregate with `as`, or derive the key field under another name",
                    own.join(", ")
                ));
            }
            seen.push(name);
        }
        Ok(())
    }
}

/// The job spec engines run for `job`, named `name`, over one of
/// `schemas`; the error says which part of the job no engine can run.
pub fn lower(
    name: &str,
    job: &DeclaredJob,
    schemas: &BTreeMap<String, EventSchema>,
) -> Result<JobSpec, String> {
    // Checked against every schema of the suite, so that a wrong input is
    // named with the schemas there are; the plan checks it again against its own.
    job.check(schemas)?;
    let schema = &schemas[&job.input];
    let declared = Declared {
        schema_name: job.input.clone(),
        schema: schema.clone(),
        job: job.clone(),
    };
    // The plan refuses what the engines cannot run (fields, keys, types).
    RecordPlan::new(&declared)?;
    declared.check_columns()?;
    check_rule_key(job, schema)?;
    let aggregates = lower_aggregates(&declared)?;
    let spec = JobSpec {
        name: name.to_string(),
        input: EventKind::Measurement,
        filter: None,
        key: KeyBy::Key,
        window: job.window,
        aggregates,
        watermark_delay_ms: job.watermark_delay_ms,
        allowed_lateness_ms: job.allowed_lateness_ms,
        declared: Some(Box::new(declared)),
    };
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

/// Why a burst rule cannot key as `job` does, if it cannot: it counts each
/// key's events in the order they arrive, which is their order only within
/// one partition, so its key must include the field the Kafka records are
/// keyed (and so partitioned) by.
fn check_rule_key(job: &DeclaredJob, schema: &EventSchema) -> Result<(), String> {
    if !matches!(job.window, WindowSpec::Burst { .. }) || job.key.contains(&schema.kafka_key) {
        return Ok(());
    }
    Err(format!(
        "key: a burst rule counts each key's events in the order they arrive, so its key must include the Kafka key `{}`: then a key's events all come from one partition, in order; keyed otherwise, how the partitions interleave would decide its rows",
        schema.kafka_key
    ))
}

/// The result-table aggregates of `declared`, whose fields
/// [`RecordPlan::new`] has checked; each asked for once.
fn lower_aggregates(declared: &Declared) -> Result<Vec<Aggregate>, String> {
    let plan = JobPlan::new(&declared.job, &declared.schema)?;
    for call in plan.calls() {
        aggregate_of(call, &declared.schema.time)?;
    }
    let columns = declared.result_aggregates();
    for (i, column) in columns.iter().enumerate() {
        let same = |c: &ResultAggregate| (c.aggregate, c.field) == (column.aggregate, column.field);
        if columns[..i].iter().any(same) {
            return Err(format!("aggregates: `{}` is asked for twice", column.column));
        }
    }
    Ok(columns.into_iter().map(|c| c.aggregate).collect())
}

/// What `call` computes in a result table (over the event time `time`,
/// or a number field).
fn aggregate_of(call: &AggregateCall, time: &str) -> Result<Aggregate, String> {
    let on_time = call.field.as_deref() == Some(time);
    Ok(match (call.function, on_time) {
        (Function::Count, _) => Aggregate::Count,
        (Function::Min | Function::First, true) => Aggregate::FirstEventTime,
        (Function::Max | Function::Last, true) => Aggregate::LastEventTime,
        (Function::Sum, _) => Aggregate::Sum,
        (Function::Min, false) => Aggregate::Min,
        (Function::Max, false) => Aggregate::Max,
        (Function::Mean, _) => Aggregate::Mean,
        (Function::First, false) => Aggregate::FirstValue,
        (Function::Last, false) => Aggregate::LastValue,
        (Function::CountDistinct, _) => Aggregate::CountDistinct,
    })
}

/// The fields the job's aggregates read besides the event time, in the
/// order they are first read (at most [`MAX_VALUE_FIELDS`]): each a whole
/// number, or a float with decimals (aggregated in its units).
fn value_fields(plan: &JobPlan, time: &str) -> Result<Vec<ValueField>, String> {
    let mut read: Vec<&str> = Vec::new();
    for call in plan.calls() {
        let Some(field) = call.field.as_deref() else {
            continue;
        };
        let of_time = matches!(
            call.function,
            Function::Min | Function::Max | Function::First | Function::Last
        );
        let time_aggregate = field == time && of_time;
        if !time_aggregate && !read.contains(&field) {
            read.push(field);
        }
    }
    if read.len() > MAX_VALUE_FIELDS {
        return Err(format!(
            "aggregates: they read {} fields ({}); the engines aggregate up to {MAX_VALUE_FIELDS} per job",
            read.len(),
            read.join(", ")
        ));
    }
    read.into_iter()
        .map(|field| {
            let only_counted = plan
                .calls()
                .filter(|c| c.field.as_deref() == Some(field))
                .all(|c| c.function == Function::CountDistinct);
            value_field(plan, field, only_counted)
        })
        .collect()
}

/// The field `field` as aggregates read it: a number, or (when
/// `only_counted`, its distinct values counted and nothing else) any type.
fn value_field(plan: &JobPlan, field: &str, only_counted: bool) -> Result<ValueField, String> {
    let Some((at, kind)) = plan.column(field) else {
        return Err(format!("aggregates: no field `{field}`"));
    };
    let as_read = match (kind, plan.decimals(at)) {
        (Type::Int, _) => ValueOf::Whole,
        (Type::Float, Some(d)) => ValueOf::Units(d),
        (Type::Float, None) => {
            return Err(format!(
                "aggregates: `{field}` is a float without `decimals`; give it them in the schema or its `derive` (`decimals = 2` for money): its values are then aggregated exactly, as SQL's DECIMAL is"
            ));
        }
        (_, _) if only_counted => ValueOf::Id,
        (other, _) => {
            return Err(format!(
                "aggregates: `{field}` is {}; of text or a boolean the engines count the distinct values (`count_distinct`), the rest aggregates numbers",
                other.name()
            ));
        }
    };
    Ok(ValueField { at, as_read })
}

/// A field a job's aggregates read, and how the engines carry its values.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ValueField {
    at: usize,
    as_read: ValueOf,
}

/// How a value field is carried in the keyed event's whole numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ValueOf {
    /// A whole number, as itself.
    Whole,
    /// A float, in whole units of its decimals.
    Units(u32),
    /// Text or a boolean (only counted distinct), as its [`key_id`].
    Id,
}

impl ValueField {
    /// The decimals its values are carried in (a float's).
    fn decimals(&self) -> Option<u32> {
        match self.as_read {
            ValueOf::Units(d) => Some(d),
            _ => None,
        }
    }

    /// Its value in `row`, as the keyed event carries it (none when a
    /// float does not fit its units).
    fn of(&self, row: &[Val]) -> Option<i64> {
        let value = &row[self.at];
        match (self.as_read, value) {
            (ValueOf::Whole, Val::Int(n)) => Some(*n),
            (ValueOf::Units(d), Val::Float(x)) => to_units(*x, d),
            // Two's complement: the id's 64 bits as they are.
            (ValueOf::Id, _) => Some(key_id([value]) as i64),
            _ => None,
        }
    }
}

/// A declared job compiled for one engine: from a record's bytes (or an
/// event's values) to the keyed event the engine's operators take.
#[derive(Debug, Clone)]
pub struct RecordPlan {
    decoder: SchemaDecoder,
    /// The plan as the oracle runs it ([`Expr::eval`](crate::expr::Expr::eval)).
    plan: JobPlan,
    /// The same, compiled, as engines run it on each record.
    compiled: CompiledRow,
    id: usize,
    time: usize,
    key: KeyPlan,
    /// The fields its aggregates read, in order ([`Keyed::value`], then
    /// [`Keyed::more`]).
    values: Vec<ValueField>,
    /// The whole-number fields named `ad_id` and `user_id`, if it has them:
    /// what a per-event row's columns of those names hold ([`carried_fields`]).
    carried: [Option<usize>; 2],
    /// The values of the keys seen, for keys carried by id.
    names: Arc<KeyNames>,
}

/// Where a job's key comes from.
#[derive(Debug, Clone, PartialEq)]
enum KeyPlan {
    /// No key: every event under key 0.
    None,
    /// One whole-number field: the key is its value.
    Whole(usize),
    /// Text, a boolean or several fields: the key is their [`key_id`], and
    /// their values are noted in the plan's [`KeyNames`].
    Named(Vec<usize>),
}

impl KeyPlan {
    /// The key of `job`'s rows, whose key fields are `key`.
    fn new(plan: &JobPlan, key: &[String]) -> Result<KeyPlan, String> {
        let mut fields = Vec::new();
        for field in key {
            match plan.column(field) {
                Some((_, Type::Float)) => {
                    return Err(format!(
                        "key: `{field}` is a float; key by whole numbers, text or booleans (a float is rarely the same twice)"
                    ));
                }
                Some((at, kind)) => fields.push((at, kind)),
                None => return Err(format!("key: no field `{field}`")),
            }
        }
        Ok(match fields.as_slice() {
            [] => KeyPlan::None,
            [(at, Type::Int)] => KeyPlan::Whole(*at),
            _ => KeyPlan::Named(fields.iter().map(|(at, _)| *at).collect()),
        })
    }

    /// The fields the key reads.
    fn fields(&self) -> &[usize] {
        match self {
            KeyPlan::None => &[],
            KeyPlan::Whole(at) => std::slice::from_ref(at),
            KeyPlan::Named(fields) => fields,
        }
    }
}

impl RecordPlan {
    /// Compiles `declared`; the error names what the engines cannot run.
    pub fn new(declared: &Declared) -> Result<RecordPlan, String> {
        let (schema, job) = (&declared.schema, &declared.job);
        let plan = JobPlan::new(job, schema)?;
        let Some(id) = &schema.id else {
            return Err(format!(
                "input `{}`: the schema needs `id`, naming its event-id field (an integer drawn as a sequence from 0), for engines to run its jobs",
                declared.schema_name
            ));
        };
        let at = |name: &str| {
            plan.column(name)
                .map(|(at, _)| at)
                .ok_or(format!("no field `{name}`"))
        };
        let key = KeyPlan::new(&plan, &job.key)?;
        let values = value_fields(&plan, &schema.time)?;
        let (id, time) = (at(id)?, at(&schema.time)?);
        let compiled = CompiledRow::new(&plan)?;
        // Only what the plan reads is kept of each record (all is checked).
        let fields = schema.fields.len();
        let mut read = vec![false; fields];
        compiled.reads(fields, &mut read);
        let value_at: Vec<usize> = values.iter().map(|v| v.at).collect();
        for at in [id, time].iter().chain(key.fields()).chain(&value_at) {
            if *at < fields {
                read[*at] = true;
            }
        }
        let carried = carried_fields(&plan, &job.window);
        for at in carried.iter().flatten() {
            if *at < fields {
                read[*at] = true;
            }
        }
        Ok(RecordPlan {
            decoder: SchemaDecoder::keeping(schema, &read, plan.columns.len()),
            id,
            time,
            key,
            values,
            carried,
            compiled,
            plan,
            names: KeyNames::shared(),
        })
    }

    /// The same plan, noting its keys' values in `names` (shared with the
    /// engine's sink and checkpoints).
    pub fn with_key_names(mut self, names: Arc<KeyNames>) -> RecordPlan {
        self.names = names;
        self
    }

    /// The same plan, reading records written in `format`.
    pub fn reading(mut self, format: Format) -> RecordPlan {
        self.decoder = self.decoder.reading(format);
        self
    }

    /// The job's plan: its columns, filter, derived fields and table.
    pub(crate) fn job_plan(&self) -> &JobPlan {
        &self.plan
    }

    /// Where in the plan's rows the event id, event time, key fields and
    /// aggregated fields are (the last two may be none).
    pub(crate) fn positions(&self) -> (usize, usize, &[usize], Vec<usize>) {
        let values = self.values.iter().map(|v| v.at).collect();
        (self.id, self.time, self.key.fields(), values)
    }

    /// The decimals of each field the job aggregates (some for a float:
    /// its values are aggregated in their units, [`crate::decimals`]).
    pub fn value_decimals(&self) -> Vec<Option<u32>> {
        self.values.iter().map(ValueField::decimals).collect()
    }

    /// The values of every key seen so far, by id (empty for whole-number keys).
    pub fn key_names(&self) -> &Arc<KeyNames> {
        &self.names
    }

    /// What the job keeps of the record `bytes`: none when its filter or
    /// join drops it; an error when it is not a record of the schema.
    pub fn interpret(&self, bytes: &[u8]) -> Result<Option<Keyed>, DecodeError> {
        thread_local! {
            // One row per thread, reused record after record.
            static ROW: RefCell<Vec<Val>> = const { RefCell::new(Vec::new()) };
        }
        ROW.with_borrow_mut(|row| {
            self.decoder.decode_into(bytes, row)?;
            if !self.compiled.fill(row) {
                return Ok(None);
            }
            if let KeyPlan::Named(fields) = &self.key {
                let key = fields.iter().map(|at| &row[*at]);
                self.names
                    .note(key_id_of(row, fields), key)
                    .map_err(|e| DecodeError::Invalid(e.to_string()))?;
            }
            Ok(self.keyed_row(row))
        })
    }

    /// What the job keeps of an event whose fields are `values`, in the
    /// schema's order, as the oracle finds it: through the plain
    /// interpreter, which judges the compiled plan [`RecordPlan::interpret`] runs.
    pub fn keyed(&self, values: Vec<Val>) -> Option<Keyed> {
        self.keyed_row(&self.plan.row(values)?)
    }

    /// The keyed event of a plan's `row`.
    fn keyed_row(&self, row: &[Val]) -> Option<Keyed> {
        let int = |at: usize| match row[at] {
            Val::Int(n) => Some(n),
            _ => None,
        };
        let key = match &self.key {
            KeyPlan::None => 0,
            KeyPlan::Whole(at) => int(*at)? as u64,
            KeyPlan::Named(fields) => key_id_of(row, fields),
        };
        let mut values = [0; MAX_VALUE_FIELDS];
        for (value, field) in values.iter_mut().zip(&self.values) {
            *value = field.of(row)?;
        }
        let carried = |at: Option<usize>| at.and_then(int).map_or(0, |n| n as u64);
        Some(Keyed {
            event_id: int(self.id)? as u64,
            key,
            event_time_ms: int(self.time)?,
            value: if self.values.is_empty() { 1 } else { values[0] },
            more: [values[1], values[2], values[3]],
            ad_id: carried(self.carried[0]),
            user_id: carried(self.carried[1]),
        })
    }
}

/// The names of the fields a per-event row carries in its columns of the
/// same names, when the job's rows have whole-number fields so named (the
/// built-in ad events do); 0 otherwise.
pub const CARRIED_FIELDS: [&str; 2] = ["ad_id", "user_id"];

/// Where `plan`'s rows hold the [`CARRIED_FIELDS`], when whole numbers and
/// the job's `window` raises rows per event (a window's rows have no such
/// columns, and the fields are then not read).
pub(crate) fn carried_fields(plan: &JobPlan, window: &WindowSpec) -> [Option<usize>; 2] {
    CARRIED_FIELDS.map(|name| match plan.column(name) {
        Some((at, Type::Int)) if window.is_per_event() => Some(at),
        _ => None,
    })
}

/// The [`key_id`] of the key `fields` of `row` (without copying text).
fn key_id_of(row: &[Val], fields: &[usize]) -> u64 {
    key_id(fields.iter().map(|at| &row[*at]))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::decimals::{from_units, scale};
    use crate::event_writer::EventWriter;
    use crate::generator::{EventClass, Generator, Late, OutOfOrder, WorkloadSpec};
    use crate::oracle::Oracle;
    use crate::schema::payment_schema;
    use crate::window::AggregateValue;
    use proptest::prelude::*;

    fn schemas() -> BTreeMap<String, EventSchema> {
        BTreeMap::from([("payment".to_string(), payment_schema())])
    }

    fn job(extra: &str) -> DeclaredJob {
        toml::from_str(&format!(
            r#"
            input = "payment"
            filter = "country in ['DE', 'FR'] or amount_cents >= 1000"
            derive = [{{ name = "charged", expr = "amount_cents + fee_cents" }}]
            enrich = {{ on = "merchant", rows = [{{ merchant = 0, category = 10 }}, {{ merchant = 1, category = 10 }}, {{ merchant = 2, category = 20 }}, {{ merchant = 3, category = 30 }}] }}
            key = ["category"]
            aggregates = ["count", "sum(charged)", "min(charged)", "max(charged)", "mean(charged)", "min(at)", "max(at)", "first(charged)", "last(charged)"]
            watermark_delay_ms = 2000
            {extra}
            "#
        ))
        .expect("a job")
    }

    #[test]
    fn what_no_result_table_holds_is_refused_before_a_run() {
        let tumbling = r#"window = { kind = "tumbling", size_ms = 1000 }"#;
        let refused = |change: &dyn Fn(&mut DeclaredJob)| {
            let mut declared = job(tumbling);
            change(&mut declared);
            lower("j", &declared, &schemas()).expect_err("refused")
        };
        for (error, says) in [
            (
                refused(&|j| j.aggregates = vec!["count_distinct(note)".into(), "first(note)".into()]),
                "`note` is text; of text or a boolean the engines count the distinct values (`count_distinct`)",
            ),
            (
                refused(&|j| {
                    let more = [
                        "sum(fee_cents)",
                        "sum(amount_cents)",
                        "sum(card)",
                        "sum(merchant)",
                    ];
                    j.aggregates.extend(more.map(String::from));
                }),
                "they read 5 fields (charged, fee_cents, amount_cents, card, merchant); the engines aggregate up to 4",
            ),
            (
                refused(&|j| {
                    j.derive.push(crate::declared_job::Derived {
                        name: "half".into(),
                        expr: "charged / 2".into(),
                        decimals: None,
                    });
                    j.aggregates = vec!["sum(half)".into()];
                }),
                "`half` is a float without `decimals`",
            ),
            (
                refused(&|j| j.aggregates = vec!["max(note)".into()]),
                "`note` is text; of text or a boolean the engines count the distinct values",
            ),
            (
                refused(&|j| j.key = vec!["rate".into()]),
                "key: `rate` is a float",
            ),
            (
                refused(&|j| {
                    j.derive.push(crate::declared_job::Derived {
                        name: "revision".into(),
                        expr: "country".into(),
                        decimals: None,
                    });
                    j.key = vec!["revision".into()];
                }),
                "the result table would have two columns `revision`",
            ),
            (
                refused(&|j| {
                    j.derive.push(crate::declared_job::Derived {
                        name: "user_id".into(),
                        expr: "country".into(),
                        decimals: None,
                    });
                    j.window = WindowSpec::Each;
                    j.aggregates.clear();
                    j.key = vec!["user_id".into()];
                }),
                "the result table would have two columns `user_id` (its own columns are event_id,",
            ),
            (
                refused(&|j| j.aggregates = vec!["count".into(), "count as n".into()]),
                "`n` is asked for twice",
            ),
            (
                refused(&|j| j.aggregates = vec!["count as category".into()]),
                "the result table would have two columns `category`",
            ),
        ] {
            assert!(error.contains(says), "{error}");
        }
        let mut no_id = schemas();
        no_id.get_mut("payment").expect("payment").id = None;
        let error = lower("j", &job(tumbling), &no_id).expect_err("no id");
        assert!(error.contains("the schema needs `id`"), "{error}");
    }

    #[test]
    fn the_result_table_is_named_as_the_job_declares() {
        let mut declared = job(r#"window = { kind = "tumbling", size_ms = 1000 }"#);
        declared.aggregates = vec!["count".into(), "sum(charged) as takings".into(), "max(at)".into()];
        let columns = |declared: &DeclaredJob| {
            let lowered = lower("j", declared, &schemas()).expect("runs");
            let keys: Vec<(String, Type)> = lowered
                .key_columns()
                .into_iter()
                .map(|c| (c.name, c.kind))
                .collect();
            (keys, lowered.aggregate_columns(), lowered.named_key().is_some())
        };
        assert_eq!(
            columns(&declared),
            (
                vec![("category".into(), Type::Int)],
                vec!["count".into(), "takings".into(), "max_at".into()],
                false
            )
        );
        declared.key = vec!["country".into(), "online".into()];
        let (keys, _, named) = columns(&declared);
        assert_eq!(
            keys,
            vec![("country".into(), Type::Text), ("online".into(), Type::Bool)]
        );
        assert!(named, "carried by id");
        declared.key.clear();
        assert_eq!(columns(&declared).0, vec![("key".into(), Type::Int)]);
    }

    #[test]
    fn a_burst_rule_keys_by_anything_that_includes_the_kafka_key() {
        let burst = r#"window = { kind = "burst", within_ms = 1000, at_least = 2 }"#;
        let mut rule = job(burst);
        rule.aggregates.clear();
        rule.key = vec!["card".into(), "country".into()];
        let lowered = lower("j", &rule, &schemas()).expect("keyed by card and country");
        let keys: Vec<String> = lowered
            .named_key()
            .expect("carried by id")
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(keys, ["card", "country"]);
        rule.key = vec!["country".into()];
        let error = lower("j", &rule, &schemas()).expect_err("its events span partitions");
        assert!(error.contains("must include the Kafka key `card`"), "{error}");
    }

    #[test]
    fn a_record_and_its_values_give_the_same_keyed_event() {
        let spec = WorkloadSpec {
            events: Some(3_000),
            malformed_fraction: 0.05,
            ..WorkloadSpec::default()
        };
        let mut each = job(r#"window = { kind = "each" }"#);
        each.aggregates.clear();
        let lowered = lower("j", &each, &schemas()).expect("runs");
        let plan = RecordPlan::new(lowered.declared.as_deref().expect("declared")).expect("plan");
        let generator = Generator::for_job(spec, &lowered, 1_700_000_000_000).expect("valid");
        let (mut kept, mut dropped, mut bytes) = (0, 0, Vec::new());
        for index in 0..generator.len() {
            let generated = generator.write_record(index, &mut bytes);
            let read = plan.interpret(&bytes);
            if let EventClass::Malformed(kind) = generated.class {
                assert!(read.is_err(), "{kind:?} {}", String::from_utf8_lossy(&bytes));
                continue;
            }
            let keyed = plan.keyed(generator.values(&generated));
            assert_eq!(read, Ok(keyed), "{}", String::from_utf8_lossy(&bytes));
            match keyed {
                Some(k) => {
                    assert_eq!(
                        (k.event_id, k.event_time_ms),
                        (index, generated.event.event_time_ms())
                    );
                    kept += 1;
                }
                None => dropped += 1,
            }
        }
        assert!(kept > 100 && dropped > 100, "{kept} kept, {dropped} dropped");
    }

    /// The catalogue oracle running the lowered job (keyed events from the
    /// record plan, the catalogue's window aggregates) against the
    /// declared oracle's own accumulators over the same events.
    fn lowered_equals_declared(declared: &DeclaredJob, spec: &WorkloadSpec) -> Result<(), TestCaseError> {
        let lowered = lower("j", declared, &schemas()).map_err(TestCaseError::fail)?;
        let generator = Generator::for_job(spec.clone(), &lowered, 1_700_000_000_000).expect("valid");
        let writer = EventWriter::new(&payment_schema(), spec).expect("valid");
        let plan = JobPlan::new(declared, &payment_schema()).map_err(TestCaseError::fail)?;
        let want = plan
            .expected(&generator, &writer, declared.watermark_delay_ms)
            .map_err(TestCaseError::fail)?;
        let oracle = Oracle::compute(&lowered, &generator).map_err(|e| TestCaseError::fail(e.0))?;
        let windows = oracle.expected(&BTreeSet::new());
        prop_assert_eq!(windows.len(), want.windows.len());
        // The declared oracle's windows by the id the engines carry the key as.
        let named = lowered.named_key().is_some();
        let by_id: BTreeMap<(u64, i64, i64), &Vec<Option<Val>>> = want
            .windows
            .iter()
            .map(|((key, start, end), aggregates)| {
                let id = match (named, key.as_slice()) {
                    (false, [Val::Int(n)]) => *n as u64,
                    _ => key_id(key),
                };
                ((id, *start, *end), aggregates)
            })
            .collect();
        prop_assert_eq!(windows.len(), by_id.len(), "two keys under one id");
        for (window, aggregate) in &windows {
            let row = (window.key, window.window_start_ms, window.window_end_ms);
            // A float with decimals is aggregated in its units: the declared
            // oracle gives it back in the field's terms.
            let got: Vec<Option<Val>> = lowered
                .result_aggregates()
                .iter()
                .map(|c| match (aggregate.value_of(c.aggregate, c.field), c.decimals) {
                    (AggregateValue::Whole(n), None) => Some(Val::Int(n)),
                    (AggregateValue::Whole(n), Some(d)) => Some(Val::Float(from_units(n, d))),
                    (AggregateValue::Mean(m), d) => Some(Val::Float(m / d.map_or(1.0, scale))),
                })
                .collect();
            prop_assert_eq!(Some(&&got), by_id.get(&row), "{:?}", window);
        }
        prop_assert_eq!(oracle.late_event_ids().collect::<BTreeSet<u64>>(), want.late);
        prop_assert_eq!(oracle.expected_dead_letters(), want.malformed);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10))]

        #[test]
        fn the_lowered_job_gives_the_declared_oracles_windows(
            seed in 0u64..1_000,
            keys in 1u64..60,
            out_of_order in 0.0f64..0.4,
            late in 0.0f64..0.1,
        ) {
            let spec = WorkloadSpec {
                seed,
                events: Some(3_000),
                keys,
                out_of_order: OutOfOrder { fraction: out_of_order, max_delay_ms: 1_500, ..OutOfOrder::default() },
                late: Late { fraction: late, ..Late::default() },
                malformed_fraction: 0.01,
                rate: crate::rate::RateProfile::constant(200.0),
                ..WorkloadSpec::default()
            };
            let keyed = |window: &str, key: &[&str]| {
                let mut declared = job(window);
                declared.key = key.iter().map(|k| k.to_string()).collect();
                declared
            };
            let tumbling = r#"window = { kind = "tumbling", size_ms = 1000 }"#;
            lowered_equals_declared(&keyed(tumbling, &["category"]), &spec)?;
            lowered_equals_declared(&keyed(r#"window = { kind = "sliding", size_ms = 3000, slide_ms = 1000 }"#, &["category"]), &spec)?;
            lowered_equals_declared(&keyed(tumbling, &["country"]), &spec)?;
            let mut rates = keyed(tumbling, &["category", "country", "online"]);
            lowered_equals_declared(&rates, &spec)?;
            rates.aggregates = ["count", "sum(rate)", "min(rate)", "max(rate)", "mean(rate)", "min(at)", "max(at)", "first(rate)", "last(rate)",
                "sum(fee_cents)", "first(fee_cents)", "mean(amount_cents)", "max(card)", "last(card)"]
                .map(String::from)
                .to_vec();
            lowered_equals_declared(&rates, &spec)?;
            // Distinct counts of text (carried by id), a boolean, a whole
            // number also summed, and a float's units.
            let mut distinct = keyed(r#"window = { kind = "sliding", size_ms = 3000, slide_ms = 1000 }"#, &["category"]);
            distinct.aggregates = ["count", "count_distinct(country)", "count_distinct(card)", "sum(card)", "count_distinct(online)", "count_distinct(rate)"]
                .map(String::from)
                .to_vec();
            lowered_equals_declared(&distinct, &spec)?;
            // A derived float with decimals is aggregated in its units too.
            rates.derive.push(crate::declared_job::Derived {
                name: "doubled".into(),
                expr: "rate * 2 + 0.005".into(),
                decimals: Some(2),
            });
            rates.aggregates = ["count", "sum(doubled)", "min(doubled)", "max(doubled)", "mean(doubled)", "min(at)", "max(at)", "first(doubled)", "last(doubled)"]
                .map(String::from)
                .to_vec();
            lowered_equals_declared(&rates, &spec)?;
        }
    }
}
