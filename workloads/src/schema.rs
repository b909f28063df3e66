//! Event schemas: the fields an event holds, their types, which one is the
//! event time and which the Kafka key, and how the generator draws each.
//! A suite declares its own (`[schemas.<name>]`); the two built-in event
//! kinds are schemas of the same form ([`EventSchema::builtin`]).

use serde::{Deserialize, Serialize};

use crate::decimals::MAX_DECIMALS;
use crate::event::{AD_TYPES, AdEventType, EventKind};
use crate::expr::Val;
use crate::generator::WorkloadSpec;

/// The fields of one kind of event, in the order they are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSchema {
    /// The field holding the event time (type `timestamp`, ms since the
    /// epoch); the generator sets it from the schedule, with its disorder.
    pub time: String,
    /// The field whose value keys (and so partitions) the Kafka record.
    pub kafka_key: String,
    /// The field holding each event's id: an integer drawn as a `sequence`
    /// from 0 by 1, so that an event's id is its index, which late-event
    /// and dead-letter accounting name. Engines run jobs only over schemas
    /// that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The fields, in the order each event writes them.
    pub fields: Vec<Field>,
}

/// One field of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Its name in the event's JSON.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// An `enum` field's values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// A `float` field's decimal places (rounded when written): money has 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    /// How the generator draws it; every field but the time field needs one,
    /// unless the workload replays a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw: Option<Draw>,
}

/// The types a field may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A whole number (64-bit).
    Integer,
    /// A number with a fraction (64-bit float).
    Float,
    /// Text.
    String,
    /// `true` or `false`.
    Boolean,
    /// Milliseconds since the Unix epoch.
    Timestamp,
    /// One of the field's `values`, written as text.
    Enum,
}

impl FieldType {
    /// Its name as a suite writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
            FieldType::Timestamp => "timestamp",
            FieldType::Enum => "enum",
        }
    }

    /// Its name after "a" or "an": `an integer`, `a float`.
    pub fn with_article(self) -> String {
        let article = if matches!(self, FieldType::Integer | FieldType::Enum) {
            "an"
        } else {
            "a"
        };
        format!("{article} {}", self.as_str())
    }
}

/// A value written in a suite: a constant, or one of a categorical draw's
/// values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    /// `true` or `false`.
    Boolean(bool),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    Text(String),
}

impl Literal {
    /// As a value expressions read.
    pub fn value(&self) -> Val {
        match self {
            Literal::Boolean(b) => Val::Bool(*b),
            Literal::Integer(n) => Val::Int(*n),
            Literal::Float(x) => Val::Float(*x),
            Literal::Text(t) => Val::Text(t.clone()),
        }
    }

    /// Whether a field of type `kind` (with `values` if an enum) can hold it.
    fn fits(&self, kind: FieldType, values: &[String]) -> bool {
        match (self, kind) {
            (Literal::Boolean(_), FieldType::Boolean) => true,
            (Literal::Integer(_), FieldType::Integer | FieldType::Float | FieldType::Timestamp) => true,
            (Literal::Float(f), FieldType::Float) => f.is_finite(),
            (Literal::Text(_), FieldType::String) => true,
            (Literal::Text(t), FieldType::Enum) => values.contains(t),
            _ => false,
        }
    }
}

/// How the generator draws a field's value for each event. Every draw is a
/// pure function of the seed, the event's index and its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Draw {
    /// `start + index * step`: an event id.
    Sequence {
        /// The first event's value.
        #[serde(default)]
        start: i64,
        /// The step between events.
        #[serde(default = "one")]
        step: i64,
    },
    /// The same value in every event.
    Constant {
        /// The value.
        value: Literal,
    },
    /// Uniform between `min` and `max` (both included for integers).
    Uniform {
        /// The smallest value.
        min: f64,
        /// The largest value.
        max: f64,
    },
    /// Normal with `mean` and standard deviation `sd`, clamped to
    /// `[min, max]` when given (a fare is never negative).
    Normal {
        /// The mean.
        mean: f64,
        /// The standard deviation.
        sd: f64,
        /// The smallest value written.
        #[serde(default)]
        min: Option<f64>,
        /// The largest value written.
        #[serde(default)]
        max: Option<f64>,
    },
    /// Ranks 0 to `n - 1`, rank k with weight 1 / (k + 1)^exponent: a few
    /// hot values.
    Zipf {
        /// How many values.
        n: u64,
        /// The skew; 0 is uniform.
        exponent: f64,
    },
    /// One of `values` (an enum field's own values when omitted), with
    /// `weights` when given, else each equally likely.
    Categorical {
        /// The values.
        #[serde(default)]
        values: Vec<Literal>,
        /// Their relative weights.
        #[serde(default)]
        weights: Vec<f64>,
    },
    /// Text: `pattern` with `{}` replaced by the whole number `of` draws
    /// (`card-{}`).
    Pattern {
        /// The text, with one `{}`.
        pattern: String,
        /// The draw of the number.
        of: Box<Draw>,
    },
    /// One of `distinct` IPv4 addresses, each equally likely.
    Ipv4 {
        /// How many addresses.
        distinct: u64,
    },
    /// The event's key: 0 to `keys - 1`, drawn as the workload's
    /// `key_distribution` says.
    Key,
    /// `of`, drawn once per key: the same in every event of a key (a card's
    /// home country, a user's home zone).
    PerKey {
        /// The draw made per key.
        of: Box<Draw>,
    },
}

fn one() -> i64 {
    1
}

/// Why a schema cannot be used, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(pub String);

impl EventSchema {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks names, types and draws, so that a bad schema fails before
    /// anything runs.
    pub fn validate(&self) -> Result<(), SchemaError> {
        self.check(true)
    }

    /// Checks names and types for a schema whose events are replayed from
    /// a file: its fields need no draws, and its id field any whole numbers.
    pub fn validate_replayed(&self) -> Result<(), SchemaError> {
        self.check(false)
    }

    fn check(&self, drawn: bool) -> Result<(), SchemaError> {
        if self.fields.is_empty() {
            return Err(SchemaError("a schema needs at least one field".into()));
        }
        self.check_roles(drawn)?;
        self.check_fields(drawn)
    }

    /// The time and Kafka key name fields of the types they need.
    fn check_roles(&self, drawn: bool) -> Result<(), SchemaError> {
        match self.field(&self.time) {
            None => return Err(SchemaError(format!("time = `{}` names no field", self.time))),
            Some(f) if f.kind != FieldType::Timestamp => {
                return Err(SchemaError(format!(
                    "time = `{}` must name a timestamp field, not {} one",
                    self.time,
                    f.kind.with_article()
                )));
            }
            Some(_) => {}
        }
        match self.field(&self.kafka_key) {
            None => {
                return Err(SchemaError(format!(
                    "kafka_key = `{}` names no field",
                    self.kafka_key
                )));
            }
            Some(f) if !matches!(f.kind, FieldType::Integer | FieldType::String | FieldType::Enum) => {
                return Err(SchemaError(format!(
                    "kafka_key = `{}` must name an integer, string or enum field, not {} one",
                    self.kafka_key,
                    f.kind.with_article()
                )));
            }
            Some(_) => {}
        }
        self.check_id(drawn)
    }

    /// The id field, if named, is an integer counting events from 0 by 1
    /// (any integer in replayed events).
    fn check_id(&self, drawn: bool) -> Result<(), SchemaError> {
        let Some(id) = &self.id else { return Ok(()) };
        match self.field(id) {
            None => Err(SchemaError(format!("id = `{id}` names no field"))),
            Some(Field {
                kind: FieldType::Integer,
                ..
            }) if !drawn => Ok(()),
            Some(_) if !drawn => Err(SchemaError(format!("id = `{id}` must name an integer field"))),
            Some(Field {
                kind: FieldType::Integer,
                draw: Some(Draw::Sequence { start: 0, step: 1 }),
                ..
            }) => Ok(()),
            Some(_) => Err(SchemaError(format!(
                "id = `{id}` must name an integer field drawn as {{ kind = \"sequence\" }} from 0 by 1, so that an event's id is its index"
            ))),
        }
    }

    /// Each field's name is usable and unique, and its draw fits its type.
    fn check_fields(&self, drawn: bool) -> Result<(), SchemaError> {
        for (i, field) in self.fields.iter().enumerate() {
            if !is_name(&field.name) {
                return Err(SchemaError(format!(
                    "field name `{}` must be a letter or `_` followed by letters, digits or `_`",
                    field.name
                )));
            }
            if field.name == "pad" {
                return Err(SchemaError(
                    "field name `pad` is taken by the padding the workload's `padding_bytes` adds".into(),
                ));
            }
            if self.fields[..i].iter().any(|f| f.name == field.name) {
                return Err(SchemaError(format!("field `{}` is declared twice", field.name)));
            }
            field
                .validate(field.name == self.time, drawn)
                .map_err(|e| SchemaError(format!("field `{}`: {e}", field.name)))?;
        }
        Ok(())
    }

    /// A built-in event kind as a schema: the same fields, drawn the same
    /// way, so that it writes the very bytes the built-in generator does.
    pub fn builtin(kind: EventKind, spec: &WorkloadSpec) -> EventSchema {
        let int = |name: &str, draw: Draw| Field {
            name: name.into(),
            kind: FieldType::Integer,
            values: Vec::new(),
            decimals: None,
            draw: Some(draw),
        };
        let sequence = || Draw::Sequence { start: 0, step: 1 };
        let time = Field {
            name: "event_time_ms".into(),
            kind: FieldType::Timestamp,
            values: Vec::new(),
            decimals: None,
            draw: None,
        };
        let upto = |n: u64| Draw::Uniform {
            min: 0.0,
            max: (n - 1) as f64,
        };
        let unweighted = || Draw::Categorical {
            values: Vec::new(),
            weights: Vec::new(),
        };
        let (kafka_key, fields) = match kind {
            EventKind::Measurement => (
                "key",
                vec![
                    int("event_id", sequence()),
                    time,
                    int("key", Draw::Key),
                    int(
                        "value",
                        Draw::Uniform {
                            min: 0.0,
                            max: 1000.0,
                        },
                    ),
                ],
            ),
            EventKind::Ad => (
                "user_id",
                vec![
                    int("event_id", sequence()),
                    time,
                    int("user_id", upto(spec.users)),
                    int("page_id", upto(10_000)),
                    int("ad_id", Draw::Key),
                    Field {
                        name: "ad_type".into(),
                        kind: FieldType::Enum,
                        values: AD_TYPES.iter().map(|t| t.to_string()).collect(),
                        decimals: None,
                        draw: Some(unweighted()),
                    },
                    Field {
                        name: "event_type".into(),
                        kind: FieldType::Enum,
                        values: AdEventType::ALL.map(|t| t.name().to_string()).to_vec(),
                        decimals: None,
                        draw: Some(unweighted()),
                    },
                    Field {
                        name: "ip".into(),
                        kind: FieldType::String,
                        values: Vec::new(),
                        decimals: None,
                        draw: Some(Draw::Ipv4 { distinct: 256 }),
                    },
                ],
            ),
        };
        EventSchema {
            time: "event_time_ms".into(),
            kafka_key: kafka_key.into(),
            id: Some("event_id".into()),
            fields,
        }
    }
}

impl Field {
    fn validate(&self, is_time: bool, drawn: bool) -> Result<(), String> {
        match (self.kind, self.values.is_empty()) {
            (FieldType::Enum, true) => return Err("an enum field needs `values`".into()),
            (FieldType::Enum, false) => {}
            (_, false) => return Err("only an enum field takes `values`".into()),
            _ => {}
        }
        if self.decimals.is_some() && self.kind != FieldType::Float {
            return Err("only a float field takes `decimals`".into());
        }
        if self.decimals.is_some_and(|d| d > MAX_DECIMALS) {
            return Err(format!("`decimals` must be at most {MAX_DECIMALS}"));
        }
        match (&self.draw, is_time) {
            (Some(_), true) => Err("the time field is set from the schedule and takes no `draw`".into()),
            (None, true) => Ok(()),
            (None, false) if drawn => Err("needs a `draw`".into()),
            (None, false) => Ok(()),
            (Some(draw), false) => draw.validate(self.kind, &self.values),
        }
    }
}

impl Draw {
    /// Its name as a suite writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Draw::Sequence { .. } => "sequence",
            Draw::Constant { .. } => "constant",
            Draw::Uniform { .. } => "uniform",
            Draw::Normal { .. } => "normal",
            Draw::Zipf { .. } => "zipf",
            Draw::Categorical { .. } => "categorical",
            Draw::Pattern { .. } => "pattern",
            Draw::Ipv4 { .. } => "ipv4",
            Draw::Key => "key",
            Draw::PerKey { .. } => "per_key",
        }
    }

    /// Checks that it can fill a field of type `kind`, and its parameters.
    fn validate(&self, kind: FieldType, values: &[String]) -> Result<(), String> {
        use FieldType::{Float, Integer, String as Text, Timestamp};
        let numeric = matches!(kind, Integer | Float | Timestamp);
        let fits = match self {
            Draw::Sequence { .. } | Draw::Zipf { .. } | Draw::Key => matches!(kind, Integer | Timestamp),
            Draw::Uniform { .. } | Draw::Normal { .. } => numeric,
            Draw::Pattern { .. } | Draw::Ipv4 { .. } => kind == Text,
            Draw::Constant { .. } | Draw::Categorical { .. } | Draw::PerKey { .. } => true,
        };
        if !fits {
            return Err(format!(
                "{} field cannot take draw `{}`",
                kind.with_article(),
                self.name()
            ));
        }
        let finite = |what: &str, x: f64| {
            if x.is_finite() {
                Ok(())
            } else {
                Err(format!("`{}` {what} must be a finite number", self.name()))
            }
        };
        let whole = |what: &str, x: f64| {
            if kind == Float || (x.fract() == 0.0 && x.abs() <= 2f64.powi(53)) {
                Ok(())
            } else {
                Err(format!(
                    "`{}` {what} must be a whole number for {} field, not {x}",
                    self.name(),
                    kind.with_article()
                ))
            }
        };
        match self {
            Draw::Sequence { step, .. } if *step == 0 => Err("`sequence` step must not be 0".into()),
            Draw::Sequence { .. } | Draw::Key => Ok(()),
            Draw::Constant { value } if value.fits(kind, values) => Ok(()),
            Draw::Constant { value } => Err(format!(
                "`constant` value {value:?} does not fit {} field",
                kind.with_article()
            )),
            Draw::Uniform { min, max } => {
                finite("min", *min)?;
                finite("max", *max)?;
                whole("min", *min)?;
                whole("max", *max)?;
                if min > max {
                    return Err(format!("`uniform` min {min} is above max {max}"));
                }
                Ok(())
            }
            Draw::Normal { mean, sd, min, max } => {
                finite("mean", *mean)?;
                finite("sd", *sd)?;
                if *sd < 0.0 {
                    return Err(format!("`normal` sd must be 0 or more, not {sd}"));
                }
                for (what, bound) in [("min", min), ("max", max)] {
                    if let Some(b) = bound {
                        finite(what, *b)?;
                    }
                }
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    return Err(format!("`normal` min {lo} is above max {hi}"));
                }
                Ok(())
            }
            Draw::Zipf { n, exponent } => {
                if *n == 0 || *n > 10_000_000 {
                    return Err(format!("`zipf` n must be 1 to 10,000,000, not {n}"));
                }
                if !(exponent.is_finite() && *exponent >= 0.0) {
                    return Err(format!("`zipf` exponent must be 0 or more, not {exponent}"));
                }
                Ok(())
            }
            Draw::Categorical { values: own, weights } => {
                let count = if own.is_empty() { values.len() } else { own.len() };
                if count == 0 {
                    return Err(
                        "`categorical` needs `values` (an enum field's own are used when omitted)".into(),
                    );
                }
                if let Some(bad) = own.iter().find(|v| !v.fits(kind, values)) {
                    return Err(format!(
                        "`categorical` value {bad:?} does not fit {} field",
                        kind.with_article()
                    ));
                }
                if !weights.is_empty() && weights.len() != count {
                    return Err(format!(
                        "`categorical` has {count} values but {} weights",
                        weights.len()
                    ));
                }
                if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                    || (!weights.is_empty() && weights.iter().sum::<f64>() <= 0.0)
                {
                    return Err("`categorical` weights must be 0 or more, and not all 0".into());
                }
                Ok(())
            }
            Draw::Pattern { pattern, of } => {
                if pattern.matches("{}").count() != 1 {
                    return Err(format!("`pattern` must hold exactly one `{{}}`, not {pattern:?}"));
                }
                of.validate(Integer, &[])
                    .map_err(|e| format!("`pattern` of: {e}"))
            }
            Draw::Ipv4 { distinct } => {
                if *distinct == 0 || *distinct > 1_000_000 {
                    return Err(format!("`ipv4` distinct must be 1 to 1,000,000, not {distinct}"));
                }
                Ok(())
            }
            Draw::PerKey { of } => match **of {
                Draw::PerKey { .. } | Draw::Key | Draw::Sequence { .. } => {
                    Err(format!("`per_key` of `{}` is not a draw per key", of.name()))
                }
                _ => of
                    .validate(kind, values)
                    .map_err(|e| format!("`per_key` of: {e}")),
            },
        }
    }
}

/// Whether `name` is a letter or `_` followed by letters, digits or `_`:
/// a name every engine's SQL and JSON path can use unquoted.
pub(crate) fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A declared schema of card payments with a field of every type: what the
/// fuzz target for declared records reads (`crate::untrusted`), and what the
/// tests of the modules that read or run declared schemas use.
pub(crate) const PAYMENT_SCHEMA: &str = r#"
time = "at"
kafka_key = "card"
id = "id"
fields = [
  { name = "id", type = "integer", draw = { kind = "sequence" } },
  { name = "at", type = "timestamp" },
  { name = "card", type = "integer", draw = { kind = "key" } },
  { name = "merchant", type = "integer", draw = { kind = "zipf", n = 9, exponent = 1.0 } },
  { name = "amount_cents", type = "integer", draw = { kind = "normal", mean = 4000, sd = 6000, min = 50, max = 500000 } },
  { name = "fee_cents", type = "integer", draw = { kind = "uniform", min = 0, max = 90 } },
  { name = "rate", type = "float", decimals = 2, draw = { kind = "uniform", min = 0, max = 1 } },
  { name = "country", type = "enum", values = ["US", "DE", "FR"], draw = { kind = "per_key", of = { kind = "categorical" } } },
  { name = "online", type = "boolean", draw = { kind = "categorical", values = [true, false] } },
  { name = "note", type = "string", draw = { kind = "pattern", pattern = "n\"{}\\", of = { kind = "key" } } },
]
"#;

/// [`PAYMENT_SCHEMA`], parsed.
#[cfg(test)]
pub(crate) fn payment_schema() -> EventSchema {
    toml::from_str(PAYMENT_SCHEMA).expect("a schema")
}
