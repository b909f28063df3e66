//! Jobs a suite declares over an event schema: which events to keep (an
//! expression), fields derived from others, the key, a static table to
//! enrich by, the window and the aggregates over named fields. A job is
//! checked against its schema before anything runs, and every error names
//! the part of the job and what is wrong in it.
//!
//! ```toml
//! input = "cards"
//! filter = "amount > 100 and country not in ['DE', 'FR']"
//! derive = [{ name = "total", expr = "amount + fee", decimals = 2 }]
//! key = ["merchant"]
//! enrich = { on = "merchant", rows = [{ merchant = 1, category = "food" }] }
//! window = { kind = "tumbling", size_ms = 60000 }
//! aggregates = ["count", "sum(amount)", "count_distinct(card) as cards"]
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decimals::MAX_DECIMALS;
use crate::expr::{Columns, Type, parse};
use crate::schema::{EventSchema, Literal, is_name};
use crate::window::WindowSpec;

/// A job declared in a suite, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredJob {
    /// The schema of the events it reads (`[schemas.<name>]`).
    pub input: String,
    /// Which events it keeps: an expression that is true or false.
    #[serde(default)]
    pub filter: Option<String>,
    /// Fields computed from others, in order (one may use those before it).
    #[serde(default)]
    pub derive: Vec<Derived>,
    /// The fields it groups by (none: every kept event in one group).
    #[serde(default)]
    pub key: Vec<String>,
    /// A static table joined on one field, adding its other columns.
    #[serde(default)]
    pub enrich: Option<Enrich>,
    /// How it groups in time.
    pub window: WindowSpec,
    /// What it computes per window, in output column order.
    #[serde(default)]
    pub aggregates: Vec<String>,
    /// The watermark trails the largest event time seen by this much.
    #[serde(default = "default_watermark_delay_ms")]
    pub watermark_delay_ms: i64,
    /// How long after its end a window still takes events.
    #[serde(default)]
    pub allowed_lateness_ms: i64,
}

/// The watermark delay of a job that gives none: 5 s, as the catalogue's.
pub(crate) fn default_watermark_delay_ms() -> i64 {
    5_000
}

/// A field computed from others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    /// Its name.
    pub name: String,
    /// How it is computed.
    pub expr: String,
    /// For a float, the decimals it is aggregated in, as a schema field's
    /// ([`crate::decimals`]): `decimals = 2` for money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
}

/// A static table joined on one field: an event whose value is not in the
/// table is not kept (an inner join, as the Yahoo Streaming Benchmark's
/// ad-to-campaign lookup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrich {
    /// The event field looked up; every row has a column of that name.
    pub on: String,
    /// The rows, each with the same columns.
    pub rows: Vec<BTreeMap<String, Literal>>,
}

/// What an aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// Events in the window.
    Count,
    /// Sum of a number.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean of a number.
    Mean,
    /// How many distinct values.
    CountDistinct,
    /// The value of the window's earliest event (by event time).
    First,
    /// The value of the window's latest event (by event time).
    Last,
}

const FUNCTIONS: [(&str, Function); 8] = [
    ("count", Function::Count),
    ("sum", Function::Sum),
    ("min", Function::Min),
    ("max", Function::Max),
    ("mean", Function::Mean),
    ("count_distinct", Function::CountDistinct),
    ("first", Function::First),
    ("last", Function::Last),
];

/// One aggregate, parsed: `sum(amount) as spent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateCall {
    /// What it computes.
    pub function: Function,
    /// The field it reads (none for `count`).
    pub field: Option<String>,
    /// Its output column: the `as` name, else `function_field` (`count`).
    pub column: String,
}

impl DeclaredJob {
    /// Checks the job against `schemas` (the suite's, by name) and returns
    /// its aggregates parsed; the error names the part of the job.
    pub fn check(&self, schemas: &BTreeMap<String, EventSchema>) -> Result<Vec<AggregateCall>, String> {
        let schema = schemas.get(&self.input).ok_or_else(|| {
            let names: Vec<&str> = schemas.keys().map(String::as_str).collect();
            format!(
                "input `{}` is not a schema of the suite (it has: {})",
                self.input,
                names.join(", ")
            )
        })?;
        self.window.validate().map_err(|e| format!("window: {e}"))?;
        for (what, ms) in [
            ("watermark_delay_ms", self.watermark_delay_ms),
            ("allowed_lateness_ms", self.allowed_lateness_ms),
        ] {
            if ms < 0 {
                return Err(format!("{what} must be 0 or more, not {ms}"));
            }
        }
        let mut columns: Columns = schema
            .fields
            .iter()
            .map(|f| (f.name.clone(), Type::of(f.kind)))
            .collect();
        if let Some(filter) = &self.filter {
            let t = typed(filter, &columns).map_err(|e| format!("filter: {e}"))?;
            if t != Type::Bool {
                return Err(format!("filter: `{filter}` must be true or false"));
            }
        }
        for derived in &self.derive {
            add_derived(derived, &mut columns)?;
        }
        if let Some(enrich) = &self.enrich {
            enrich
                .add_columns(&mut columns)
                .map_err(|e| format!("enrich: {e}"))?;
        }
        for key in &self.key {
            if !columns.iter().any(|(name, _)| name == key) {
                return Err(format!(
                    "key: no field `{key}`; the job's events have {}",
                    names(&columns)
                ));
            }
        }
        let mut calls: Vec<AggregateCall> = Vec::new();
        for text in &self.aggregates {
            let call = parse_aggregate(text, &columns).map_err(|e| format!("aggregates: `{text}`: {e}"))?;
            if calls.iter().any(|c| c.column == call.column) {
                return Err(format!(
                    "aggregates: two give column `{}`: name one with `as`",
                    call.column
                ));
            }
            calls.push(call);
        }
        Ok(calls)
    }
}

impl DeclaredJob {
    /// The job in one line, as a report shows it: input, filter, derived
    /// fields, join, key, window, aggregates and watermark.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("over `{}`", self.input)];
        if let Some(filter) = &self.filter {
            parts.push(format!("kept where `{filter}`"));
        }
        for derived in &self.derive {
            parts.push(format!("`{}` = `{}`", derived.name, derived.expr));
        }
        if let Some(enrich) = &self.enrich {
            parts.push(format!(
                "joined on `{}` with a table of {} rows",
                enrich.on,
                enrich.rows.len()
            ));
        }
        if !self.key.is_empty() {
            parts.push(format!("keyed by {}", self.key.join(", ")));
        }
        parts.push(describe_window(&self.window));
        if !self.aggregates.is_empty() {
            parts.push(self.aggregates.join(", "));
        }
        parts.push(format!("watermark {} ms", self.watermark_delay_ms));
        parts.join("; ")
    }
}

fn describe_window(window: &WindowSpec) -> String {
    match *window {
        WindowSpec::Tumbling { size_ms } => format!("tumbling {size_ms} ms"),
        WindowSpec::Sliding { size_ms, slide_ms } => format!("sliding {size_ms} ms every {slide_ms} ms"),
        WindowSpec::Session { gap_ms } => format!("sessions with a {gap_ms} ms gap"),
        WindowSpec::Each => "a row per kept event".to_string(),
        WindowSpec::Burst { within_ms, at_least } => {
            format!("a row per event that makes {at_least} or more within {within_ms} ms")
        }
    }
}

fn names(columns: &Columns) -> String {
    columns
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The type of `text` over `columns`, as an expression.
fn typed(text: &str, columns: &Columns) -> Result<Type, String> {
    parse(text).map_err(|e| e.to_string())?.type_in(columns)
}

fn add_derived(derived: &Derived, columns: &mut Columns) -> Result<(), String> {
    let at = format!("derive `{}`", derived.name);
    if columns.iter().any(|(name, _)| *name == derived.name) {
        return Err(format!("{at}: the events already have a field of that name"));
    }
    if !is_name(&derived.name) {
        return Err(format!(
            "{at}: a name is a letter or `_` followed by letters, digits or `_`"
        ));
    }
    let t = typed(&derived.expr, columns).map_err(|e| format!("{at}: {e}"))?;
    match derived.decimals {
        Some(_) if t != Type::Float => {
            return Err(format!("{at}: it is {}; only a float takes `decimals`", t.name()));
        }
        Some(d) if d > MAX_DECIMALS => {
            return Err(format!("{at}: `decimals` must be at most {MAX_DECIMALS}"));
        }
        _ => {}
    }
    columns.push((derived.name.clone(), t));
    Ok(())
}

impl Enrich {
    /// Adds the table's columns but `on` to `columns`, after checking that
    /// `on` is one of them, every row has the same columns, and each column
    /// holds one type.
    fn add_columns(&self, columns: &mut Columns) -> Result<(), String> {
        let on_type = columns
            .iter()
            .find(|(name, _)| *name == self.on)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                format!(
                    "on: no field `{}`; the job's events have {}",
                    self.on,
                    names(columns)
                )
            })?;
        let first = self.rows.first().ok_or("the table has no rows")?;
        if !first.contains_key(&self.on) {
            return Err(format!("the rows have no column `{}`", self.on));
        }
        let mut added = Vec::new();
        for (name, value) in first {
            let t = value.value().kind();
            if *name == self.on {
                if t != on_type {
                    return Err(format!(
                        "column `{name}` holds {} but the field is {}",
                        t.name(),
                        on_type.name()
                    ));
                }
                continue;
            }
            if columns.iter().any(|(n, _)| n == name) {
                return Err(format!("column `{name}` is already a field of the events"));
            }
            added.push((name.clone(), t));
        }
        for (i, row) in self.rows.iter().enumerate() {
            if row.keys().ne(first.keys()) {
                return Err(format!("row {} has other columns than row 1", i + 1));
            }
            if let Some((name, _)) = row
                .iter()
                .find(|(n, v)| v.value().kind() != first[*n].value().kind())
            {
                return Err(format!(
                    "row {}: column `{name}` holds another type than in row 1",
                    i + 1
                ));
            }
        }
        columns.extend(added);
        Ok(())
    }
}

/// Parses `function(field) [as column]` (or `count`) over `columns`.
fn parse_aggregate(text: &str, columns: &Columns) -> Result<AggregateCall, String> {
    let (call, alias) = match text.split_once(" as ") {
        Some((call, alias)) => (call.trim(), Some(alias.trim())),
        None => (text.trim(), None),
    };
    let (name, field) = match call.split_once('(') {
        Some((name, rest)) => {
            let field = rest.strip_suffix(')').ok_or("a call ends with `)`")?.trim();
            (name.trim(), Some(field.to_string()))
        }
        None => (call, None),
    };
    let function = FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            let known: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
            format!("no aggregate `{name}`; there are {}", known.join(", "))
        })?;
    let field_type = match (&field, function) {
        (None, Function::Count) => None,
        (Some(_), Function::Count) => return Err("`count` takes no field".into()),
        (None, _) => return Err(format!("`{name}` needs a field: `{name}(field)`")),
        (Some(f), _) => Some(
            columns
                .iter()
                .find(|(n, _)| n == f)
                .map(|(_, t)| *t)
                .ok_or_else(|| format!("no field `{f}`; the job's events have {}", names(columns)))?,
        ),
    };
    let numeric = matches!(field_type, Some(Type::Int | Type::Float));
    if matches!(function, Function::Sum | Function::Mean) && !numeric {
        return Err(format!("`{name}` needs a number"));
    }
    if matches!(function, Function::Min | Function::Max) && field_type == Some(Type::Bool) {
        return Err(format!("`{name}` needs a number or text"));
    }
    let column = match (alias, &field) {
        (Some(alias), _) if is_name(alias) => alias.to_string(),
        (Some(alias), _) => return Err(format!("`{alias}` is not a column name")),
        (None, Some(f)) => format!("{name}_{f}"),
        (None, None) => name.to_string(),
    };
    Ok(AggregateCall {
        function,
        field,
        column,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> BTreeMap<String, EventSchema> {
        let cards: EventSchema = toml::from_str(
            r#"
            time = "at"
            kafka_key = "card"
            fields = [
              { name = "at", type = "timestamp" },
              { name = "card", type = "string", draw = { kind = "pattern", pattern = "card-{}", of = { kind = "key" } } },
              { name = "merchant", type = "integer", draw = { kind = "zipf", n = 50, exponent = 1.0 } },
              { name = "amount", type = "float", decimals = 2, draw = { kind = "uniform", min = 1.0, max = 900.0 } },
              { name = "fee", type = "float", decimals = 2, draw = { kind = "uniform", min = 0.0, max = 3.0 } },
              { name = "country", type = "enum", values = ["DE", "FR", "US"], draw = { kind = "categorical" } },
              { name = "online", type = "boolean", draw = { kind = "categorical", values = [true, false] } },
            ]
            "#,
        )
        .expect("a schema");
        BTreeMap::from([("cards".to_string(), cards)])
    }

    fn job() -> DeclaredJob {
        toml::from_str(
            r#"
            input = "cards"
            filter = "amount > 100 and country not in ['DE', 'FR']"
            derive = [{ name = "fee_share", expr = "fee / amount" }, { name = "big", expr = "fee_share > 0.01" }]
            key = ["merchant", "category"]
            enrich = { on = "merchant", rows = [{ merchant = 1, category = "food" }, { merchant = 2, category = "fuel" }] }
            window = { kind = "tumbling", size_ms = 60000 }
            aggregates = ["count", "sum(amount)", "max(fee_share) as top_share", "count_distinct(card)", "first(country)"]
            "#,
        )
        .expect("a job")
    }

    #[test]
    fn a_declared_job_checks_against_its_schema_and_names_its_columns() {
        let calls = job().check(&schemas()).expect("valid");
        let columns: Vec<&str> = calls.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(
            columns,
            [
                "count",
                "sum_amount",
                "top_share",
                "count_distinct_card",
                "first_country"
            ]
        );
        assert_eq!(calls[2].function, Function::Max);
        assert_eq!(calls[2].field.as_deref(), Some("fee_share"));
        assert_eq!(job().watermark_delay_ms, 5_000, "the default");
    }

    #[test]
    fn a_bad_job_is_refused_naming_its_part() {
        let refused = |edit: &dyn Fn(&mut DeclaredJob)| {
            let mut job = job();
            edit(&mut job);
            job.check(&schemas()).expect_err("refused")
        };
        assert_eq!(
            refused(&|j| j.input = "trips".into()),
            "input `trips` is not a schema of the suite (it has: cards)"
        );
        assert_eq!(
            refused(&|j| j.filter = Some("amount + 1".into())),
            "filter: `amount + 1` must be true or false"
        );
        assert_eq!(
            refused(&|j| j.filter = Some("amount >".into())),
            "filter: the expression ends where a value should be, at column 9 of `amount >`"
        );
        assert_eq!(
            refused(&|j| j.derive[0].expr = "fee / country".into()),
            "derive `fee_share`: `/` needs numbers, not `fee` (a number) and `country` (text)"
        );
        assert_eq!(
            refused(&|j| j.derive[1].decimals = Some(2)),
            "derive `big`: it is true or false; only a float takes `decimals`"
        );
        assert_eq!(
            refused(&|j| j.derive[0].decimals = Some(10)),
            "derive `fee_share`: `decimals` must be at most 9"
        );
        assert_eq!(
            refused(&|j| j.derive[1].name = "fee".into()),
            "derive `fee`: the events already have a field of that name"
        );
        assert_eq!(
            refused(&|j| j.key.push("city".into())),
            "key: no field `city`; the job's events have at, card, merchant, amount, fee, country, online, fee_share, big, category"
        );
        assert_eq!(
            refused(&|j| j.enrich.as_mut().unwrap().rows[1]
                .insert("extra".into(), Literal::Integer(1))
                .map(|_| ())
                .unwrap_or(())),
            "enrich: row 2 has other columns than row 1"
        );
        assert_eq!(
            refused(&|j| j.enrich.as_mut().unwrap().on = "card".into()),
            "enrich: the rows have no column `card`"
        );
        assert_eq!(
            refused(&|j| j.enrich.as_mut().unwrap().rows[0]
                .insert("merchant".into(), Literal::Text("1".into()))
                .map(|_| ())
                .unwrap_or(())),
            "enrich: column `merchant` holds text but the field is a whole number"
        );
        assert_eq!(
            refused(&|j| j.aggregates.push("sum(country)".into())),
            "aggregates: `sum(country)`: `sum` needs a number"
        );
        assert_eq!(
            refused(&|j| j.aggregates.push("median(amount)".into())),
            "aggregates: `median(amount)`: no aggregate `median`; there are count, sum, min, max, mean, count_distinct, first, last"
        );
        assert_eq!(
            refused(&|j| j.aggregates.push("sum(amount)".into())),
            "aggregates: two give column `sum_amount`: name one with `as`"
        );
        assert_eq!(
            refused(&|j| j.window = WindowSpec::Tumbling { size_ms: 0 }),
            "window: size_ms must be positive, not 0"
        );
    }

    #[test]
    fn a_declared_job_describes_itself_in_one_line() {
        assert_eq!(
            job().describe(),
            "over `cards`; kept where `amount > 100 and country not in ['DE', 'FR']`; \
             `fee_share` = `fee / amount`; `big` = `fee_share > 0.01`; \
             joined on `merchant` with a table of 2 rows; keyed by merchant, category; tumbling 60000 ms; \
             count, sum(amount), max(fee_share) as top_share, count_distinct(card), first(country); watermark 5000 ms"
        );
    }
}
