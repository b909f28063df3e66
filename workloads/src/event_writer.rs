//! Writes events of an [`EventSchema`] in the workload's format (JSON, or
//! Avro or Protobuf as [`crate::avro`] and [`crate::protobuf`] lay them
//! out): the schema compiled once into a plan per field (tables of weights
//! built, constant text encoded), so that writing an event only draws
//! numbers and copies bytes.

use crate::avro;
use crate::confluent;
use crate::expr::Val;
use crate::format::Format;
use crate::generator::WorkloadSpec;
use crate::protobuf::{self, WireType};
use crate::rng::{EventRng, cumulative, pick, zipf_cdf};
use crate::schema::{Draw, EventSchema, FieldType, Literal, SchemaError};

/// The random stream of a schema's per-event draws (the built-in
/// generator's `FIELDS` stream, so a built-in schema writes its bytes).
const FIELDS_STREAM: u64 = 3;
/// The first random stream of per-key draws (one per field after it).
const PER_KEY_STREAM: u64 = 1_000;

/// A schema ready to write events.
#[derive(Debug, Clone)]
pub struct EventWriter {
    seed: u64,
    fields: Vec<Compiled>,
    kafka_key: usize,
    format: Format,
    /// The padding as the format writes it (in JSON, `,"pad":"xx…"`).
    padding: Vec<u8>,
}

/// One field: its name or tag as written, its type, and how its value is made.
#[derive(Debug, Clone)]
struct Compiled {
    /// `"name":`, after a `{` or a `,`.
    prefix: Vec<u8>,
    /// Its Protobuf tag: its number and wire type.
    tag: Vec<u8>,
    kind: FieldType,
    plan: Plan,
}

/// How one field's value is made.
#[derive(Debug, Clone)]
enum Plan {
    Time,
    Sequence {
        start: i64,
        step: i64,
    },
    UniformInt {
        min: i64,
        span: u64,
    },
    UniformFloat {
        min: f64,
        width: f64,
        decimals: Option<u32>,
    },
    Normal {
        mean: f64,
        sd: f64,
        min: f64,
        max: f64,
        whole: bool,
        decimals: Option<u32>,
    },
    Zipf {
        cdf: Vec<f64>,
    },
    /// One of a fixed set of values, each already written out.
    Choice {
        values: Vec<Text>,
        cdf: Option<Vec<f64>>,
    },
    Pattern {
        before: Text,
        after: Text,
        of: Box<Plan>,
    },
    Key,
    PerKey {
        of: Box<Plan>,
        stream: u64,
    },
}

/// A value written out ahead: its JSON, its Avro, its Protobuf (without
/// the tag), its raw text for a Kafka key, and the value itself for the
/// oracle.
#[derive(Debug, Clone)]
struct Text {
    json: Vec<u8>,
    avro: Vec<u8>,
    proto: Vec<u8>,
    raw: Vec<u8>,
    value: Val,
}

/// One drawn value.
enum Value<'p> {
    Int(i64),
    Float(f64),
    Text(&'p Text),
    Pattern(&'p Text, i64, &'p Text),
}

impl EventWriter {
    /// Compiles `schema` for `spec`'s seed, keys and padding.
    pub fn new(schema: &EventSchema, spec: &WorkloadSpec) -> Result<EventWriter, SchemaError> {
        schema.validate()?;
        let fields = schema
            .fields
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let opening = if i == 0 { "{" } else { "," };
                let plan = match &field.draw {
                    None => Plan::Time,
                    Some(draw) => compile(
                        draw,
                        field.kind,
                        &field.values,
                        field.decimals,
                        spec.seed,
                        i as u64,
                    ),
                };
                let mut tag = Vec::new();
                protobuf::write_tag(i as u32 + 1, protobuf::wire_type(field.kind), &mut tag);
                Compiled {
                    prefix: format!("{opening}{}:", json_string(&field.name)).into_bytes(),
                    tag,
                    kind: field.kind,
                    plan,
                }
            })
            .collect();
        let kafka_key = schema
            .fields
            .iter()
            .position(|f| f.name == schema.kafka_key)
            .expect("validated: kafka_key names a field");
        Ok(EventWriter {
            seed: spec.seed,
            fields,
            kafka_key,
            format: spec.format,
            padding: padding_of(spec.format, spec.padding_bytes, schema.fields.len()),
        })
    }

    /// Writes event `index` with key `key` and time `event_time_ms` into
    /// `value` in the workload's format, and its Kafka key into `kafka_key`
    /// when given (both cleared first).
    pub fn write(
        &self,
        index: u64,
        key: u64,
        event_time_ms: i64,
        value: &mut Vec<u8>,
        mut kafka_key: Option<&mut Vec<u8>>,
    ) {
        value.clear();
        if let Some(k) = kafka_key.as_deref_mut() {
            k.clear();
        }
        self.write_padded(index, key, event_time_ms, value, kafka_key, &self.padding);
    }

    /// [`EventWriter::write`] with `padding` (already encoded) in place of
    /// the workload's: a damaged record made too big writes a larger one.
    fn write_padded(
        &self,
        index: u64,
        key: u64,
        event_time_ms: i64,
        value: &mut Vec<u8>,
        mut kafka_key: Option<&mut Vec<u8>>,
        padding: &[u8],
    ) {
        match self.format {
            Format::Json => {}
            Format::Avro => confluent::write_header(confluent::SCHEMA_ID, value),
            Format::Protobuf => protobuf::write_header(confluent::SCHEMA_ID, value),
        }
        let mut draws = Draws::new(self.seed, index, key, event_time_ms);
        for (i, field) in self.fields.iter().enumerate() {
            let drawn = draws.draw(&field.plan);
            match self.format {
                Format::Json => {
                    value.extend_from_slice(&field.prefix);
                    write_json(&drawn, value);
                }
                Format::Avro => write_avro(&drawn, field.kind, value),
                Format::Protobuf => {
                    value.extend_from_slice(&field.tag);
                    write_proto(&drawn, field.kind, value);
                }
            }
            if i == self.kafka_key
                && let Some(k) = kafka_key.as_deref_mut()
            {
                write_raw(&drawn, k);
            }
        }
        value.extend_from_slice(padding);
        if self.format == Format::Json {
            value.push(b'}');
        }
    }

    /// Writes event `index` with `pad_bytes` of padding in place of the
    /// workload's (in JSON and Protobuf, none at 0): more than an event may
    /// hold makes a record too big to be one.
    pub fn write_with_padding(
        &self,
        index: u64,
        key: u64,
        event_time_ms: i64,
        pad_bytes: usize,
        value: &mut Vec<u8>,
    ) {
        value.clear();
        let padding = padding_of(self.format, pad_bytes, self.fields.len());
        self.write_padded(index, key, event_time_ms, value, None, &padding);
    }

    /// Writes a record holding only the event time `event_time_ms`, in
    /// the workload's format: an event without its other fields.
    pub fn write_time_only(&self, event_time_ms: i64, value: &mut Vec<u8>) {
        value.clear();
        let at = self.fields.iter().position(|f| matches!(f.plan, Plan::Time));
        let field = &self.fields[at.expect("validated: a schema has a time field")];
        let time = Value::Int(event_time_ms);
        match self.format {
            Format::Json => {
                value.push(b'{');
                value.extend_from_slice(&field.prefix[1..]);
                write_json(&time, value);
                value.push(b'}');
            }
            Format::Avro => {
                confluent::write_header(confluent::SCHEMA_ID, value);
                write_avro(&time, field.kind, value);
            }
            Format::Protobuf => {
                protobuf::write_header(confluent::SCHEMA_ID, value);
                value.extend_from_slice(&field.tag);
                write_proto(&time, field.kind, value);
            }
        }
    }

    /// The values of event `index` (key `key`, time `event_time_ms`), one
    /// per field in the schema's order: what [`EventWriter::write`] writes.
    pub fn values(&self, index: u64, key: u64, event_time_ms: i64) -> Vec<Val> {
        let mut draws = Draws::new(self.seed, index, key, event_time_ms);
        self.fields
            .iter()
            .map(|field| draws.draw(&field.plan).owned())
            .collect()
    }
}

impl Value<'_> {
    fn owned(&self) -> Val {
        match self {
            Value::Int(n) => Val::Int(*n),
            Value::Float(x) => Val::Float(*x),
            Value::Text(text) => text.value.clone(),
            Value::Pattern(before, n, after) => Val::Text(format!(
                "{}{n}{}",
                String::from_utf8_lossy(&before.raw),
                String::from_utf8_lossy(&after.raw)
            )),
        }
    }
}

/// What one event's draws depend on.
struct Draws {
    rng: EventRng,
    seed: u64,
    index: u64,
    key: u64,
    time: i64,
}

impl Draws {
    /// The draws of event `index` with key `key` at `time`.
    fn new(seed: u64, index: u64, key: u64, time: i64) -> Draws {
        Draws {
            rng: EventRng::new(seed, index, FIELDS_STREAM),
            seed,
            index,
            key,
            time,
        }
    }

    fn draw<'p>(&mut self, plan: &'p Plan) -> Value<'p> {
        let rng = &mut self.rng;
        match plan {
            Plan::Time => Value::Int(self.time),
            Plan::Sequence { start, step } => {
                Value::Int(start.wrapping_add((self.index as i64).wrapping_mul(*step)))
            }
            Plan::UniformInt { min, span } => Value::Int(min + rng.below(*span) as i64),
            Plan::UniformFloat { min, width, decimals } => {
                Value::Float(round(min + rng.unit() * width, *decimals))
            }
            Plan::Normal {
                mean,
                sd,
                min,
                max,
                whole,
                decimals,
            } => {
                let x = (mean + sd * standard_normal(rng)).clamp(*min, *max);
                if *whole {
                    Value::Int(x.round() as i64)
                } else {
                    Value::Float(round(x, *decimals))
                }
            }
            Plan::Zipf { cdf } => Value::Int(pick(cdf, rng.unit()) as i64),
            Plan::Choice { values, cdf } => {
                let at = match cdf {
                    None => rng.below(values.len() as u64) as usize,
                    Some(cdf) => pick(cdf, rng.unit()),
                };
                Value::Text(&values[at])
            }
            Plan::Pattern { before, after, of } => match self.draw(of) {
                Value::Int(n) => Value::Pattern(before, n, after),
                _ => unreachable!("validated: a pattern's draw is a whole number"),
            },
            Plan::Key => Value::Int(self.key as i64),
            Plan::PerKey { of, stream } => {
                let mut per_key = Draws {
                    rng: EventRng::new(self.seed, self.key, *stream),
                    seed: self.seed,
                    index: self.index,
                    key: self.key,
                    time: self.time,
                };
                per_key.draw(of)
            }
        }
    }
}

fn compile(
    draw: &Draw,
    kind: FieldType,
    values: &[String],
    decimals: Option<u32>,
    seed: u64,
    field: u64,
) -> Plan {
    let whole = kind != FieldType::Float;
    match draw {
        Draw::Sequence { start, step } => Plan::Sequence {
            start: *start,
            step: *step,
        },
        Draw::Constant { value } => Plan::Choice {
            values: vec![literal_text(value, kind)],
            cdf: None,
        },
        Draw::Uniform { min, max } if whole => Plan::UniformInt {
            min: *min as i64,
            span: (*max as i64 - *min as i64) as u64 + 1,
        },
        Draw::Uniform { min, max } => Plan::UniformFloat {
            min: *min,
            width: max - min,
            decimals,
        },
        Draw::Normal { mean, sd, min, max } => Plan::Normal {
            mean: *mean,
            sd: *sd,
            min: min.unwrap_or(f64::NEG_INFINITY),
            max: max.unwrap_or(f64::INFINITY),
            whole,
            decimals,
        },
        Draw::Zipf { n, exponent } => Plan::Zipf {
            cdf: zipf_cdf(*n, *exponent),
        },
        Draw::Categorical { values: own, weights } => Plan::Choice {
            values: if own.is_empty() {
                values
                    .iter()
                    .map(|v| literal_text(&Literal::Text(v.clone()), kind))
                    .collect()
            } else {
                own.iter().map(|v| literal_text(v, kind)).collect()
            },
            cdf: (!weights.is_empty()).then(|| cumulative(weights)),
        },
        Draw::Pattern { pattern, of } => {
            let (before, after) = pattern.split_once("{}").expect("validated: one {}");
            Plan::Pattern {
                before: text_part(before),
                after: text_part(after),
                of: Box::new(compile(of, FieldType::Integer, &[], None, seed, field)),
            }
        }
        Draw::Ipv4 { distinct } => Plan::Choice {
            values: (0..*distinct)
                .map(|i| literal_text(&Literal::Text(ipv4(seed, i)), FieldType::String))
                .collect(),
            cdf: None,
        },
        Draw::Key => Plan::Key,
        Draw::PerKey { of } => Plan::PerKey {
            of: Box::new(compile(of, kind, values, decimals, seed, field)),
            stream: PER_KEY_STREAM + field,
        },
    }
}

/// Address `i` of a workload's IPv4 addresses (in 10.0.0.0/8).
pub(crate) fn ipv4(seed: u64, i: u64) -> String {
    let mut rng = EventRng::new(seed, i, 99);
    format!("10.{}.{}.{}", rng.below(256), rng.below(256), rng.below(256))
}

/// A literal as the field of type `kind` writes it.
fn literal_text(value: &Literal, kind: FieldType) -> Text {
    let raw = match value {
        Literal::Boolean(b) => b.to_string(),
        Literal::Integer(n) if kind == FieldType::Float => format!("{}", *n as f64),
        Literal::Integer(n) => n.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Text(t) => t.clone(),
    };
    let json = match value {
        Literal::Text(t) => json_string(t),
        _ => raw.clone(),
    };
    let value = match value {
        Literal::Boolean(b) => Val::Bool(*b),
        Literal::Integer(n) if kind == FieldType::Float => Val::Float(*n as f64),
        Literal::Integer(n) => Val::Int(*n),
        Literal::Float(f) => Val::Float(*f),
        Literal::Text(t) => Val::Text(t.clone()),
    };
    Text {
        json: json.into_bytes(),
        avro: avro_value(&value),
        proto: proto_value(&value),
        raw: raw.into_bytes(),
        value,
    }
}

/// Part of a pattern: its JSON-escaped text without the quotes, and raw.
fn text_part(part: &str) -> Text {
    let quoted = json_string(part);
    Text {
        json: quoted.as_bytes()[1..quoted.len() - 1].to_vec(),
        avro: avro_string(part),
        proto: proto_value(&Val::Text(part.to_string())),
        raw: part.as_bytes().to_vec(),
        value: Val::Text(part.to_string()),
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

fn write_json(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Value::Float(x) => out.extend_from_slice(ryu::Buffer::new().format_finite(*x).as_bytes()),
        Value::Text(text) => out.extend_from_slice(&text.json),
        Value::Pattern(before, n, after) => {
            out.push(b'"');
            out.extend_from_slice(&before.json);
            out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
            out.extend_from_slice(&after.json);
            out.push(b'"');
        }
    }
}

/// `value` as Avro writes it.
fn avro_value(value: &Val) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Val::Int(n) => avro::write_long(*n, &mut out),
        Val::Float(x) => avro::write_double(*x, &mut out),
        Val::Bool(b) => avro::write_boolean(*b, &mut out),
        Val::Text(t) => avro::write_string(t.as_bytes(), &mut out),
    }
    out
}

/// `text` as an Avro `string`.
fn avro_string(text: &str) -> Vec<u8> {
    avro_value(&Val::Text(text.to_string()))
}

/// `value` as Protobuf writes it after its tag.
fn proto_value(value: &Val) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Val::Int(n) => protobuf::write_varint(*n as u64, &mut out),
        Val::Float(x) => out.extend_from_slice(&x.to_le_bytes()),
        Val::Bool(b) => protobuf::write_varint(u64::from(*b), &mut out),
        Val::Text(t) => protobuf::write_len(t.as_bytes(), &mut out),
    }
    out
}

/// `pad_bytes` of padding as `format` writes it after the schema's
/// `fields` fields: in JSON a `pad` key and in Protobuf a `pad` field (both
/// left out at 0), in Avro the `pad` string.
fn padding_of(format: Format, pad_bytes: usize, fields: usize) -> Vec<u8> {
    let pad = "x".repeat(pad_bytes);
    match format {
        Format::Json if pad_bytes == 0 => Vec::new(),
        Format::Json => format!(",\"pad\":\"{pad}\"").into_bytes(),
        Format::Avro => avro_string(&pad),
        Format::Protobuf if pad_bytes == 0 => Vec::new(),
        Format::Protobuf => {
            let mut out = Vec::new();
            protobuf::write_tag(fields as u32 + 1, WireType::Len, &mut out);
            protobuf::write_len(pad.as_bytes(), &mut out);
            out
        }
    }
}

/// Writes a drawn value of a field of type `kind` in Protobuf, after its
/// tag: a whole number drawn for a float field as a `double`.
fn write_proto(value: &Value<'_>, kind: FieldType, out: &mut Vec<u8>) {
    match value {
        Value::Int(n) if kind == FieldType::Float => out.extend_from_slice(&(*n as f64).to_le_bytes()),
        Value::Int(n) => protobuf::write_varint(*n as u64, out),
        Value::Float(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Text(text) => out.extend_from_slice(&text.proto),
        Value::Pattern(before, n, after) => write_pattern(
            before,
            *n,
            after,
            |len, out| protobuf::write_varint(len as u64, out),
            out,
        ),
    }
}

/// Writes a drawn value of a field of type `kind` in Avro: a whole number
/// drawn for a float field as a `double`.
fn write_avro(value: &Value<'_>, kind: FieldType, out: &mut Vec<u8>) {
    match value {
        Value::Int(n) if kind == FieldType::Float => avro::write_double(*n as f64, out),
        Value::Int(n) => avro::write_long(*n, out),
        Value::Float(x) => avro::write_double(*x, out),
        Value::Text(text) => out.extend_from_slice(&text.avro),
        Value::Pattern(before, n, after) => write_pattern(
            before,
            *n,
            after,
            |len, out| avro::write_long(len as i64, out),
            out,
        ),
    }
}

/// Writes a pattern's text (`before`, the number `n`, `after`) as a
/// binary format's string: its length in bytes, as `length` writes it,
/// then the bytes.
fn write_pattern(before: &Text, n: i64, after: &Text, length: fn(usize, &mut Vec<u8>), out: &mut Vec<u8>) {
    let mut digits = itoa::Buffer::new();
    let n = digits.format(n).as_bytes();
    length(before.raw.len() + n.len() + after.raw.len(), out);
    out.extend_from_slice(&before.raw);
    out.extend_from_slice(n);
    out.extend_from_slice(&after.raw);
}

fn write_raw(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Value::Float(x) => out.extend_from_slice(ryu::Buffer::new().format_finite(*x).as_bytes()),
        Value::Text(text) => out.extend_from_slice(&text.raw),
        Value::Pattern(before, n, after) => {
            out.extend_from_slice(&before.raw);
            out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
            out.extend_from_slice(&after.raw);
        }
    }
}

/// `x` rounded to `decimals` places (unchanged without).
fn round(x: f64, decimals: Option<u32>) -> f64 {
    match decimals {
        None => x,
        Some(d) => {
            let scale = 10f64.powi(d as i32);
            (x * scale).round() / scale
        }
    }
}

/// A standard normal draw (Box-Muller, one of its pair).
fn standard_normal(rng: &mut EventRng) -> f64 {
    let u = 1.0 - rng.unit();
    let v = rng.unit();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::generator::{EventClass, Generator, KeyDistribution, OutOfOrder};
    use serde_json::Value as Json;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            events: Some(20_000),
            keys: 500,
            key_distribution: KeyDistribution::Zipf { exponent: 1.0 },
            users: 700,
            padding_bytes: 7,
            out_of_order: OutOfOrder {
                fraction: 0.2,
                ..OutOfOrder::default()
            },
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn the_built_in_kinds_as_schemas_write_their_events_as_serde_does() {
        let spec = spec();
        for kind in [EventKind::Measurement, EventKind::Ad] {
            let generator = Generator::new(spec.clone(), kind, 1_700_000_000_000).expect("valid");
            let writer = EventWriter::new(&EventSchema::builtin(kind, &spec), &spec).expect("valid");
            let (mut expected, mut value, mut key, mut record) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for index in 0..spec.events.unwrap() {
                // The reference: the generator's event struct, through serde.
                let generated = generator.generate(index);
                assert!(!matches!(generated.class, EventClass::Malformed(_)));
                expected.clear();
                generated.event.write_json(&mut expected);
                generator.write_record(index, &mut record);
                assert_eq!(record, expected, "{kind:?} event {index}: the generator's record");
                let drawn_key = generated.event.drawn_key();
                writer.write(
                    index,
                    drawn_key,
                    generated.event.event_time_ms(),
                    &mut value,
                    Some(&mut key),
                );
                assert_eq!(
                    String::from_utf8_lossy(&value),
                    String::from_utf8_lossy(&expected),
                    "{kind:?} event {index}"
                );
                assert_eq!(
                    key,
                    crate::generator::key_bytes(generated.key),
                    "{kind:?} event {index}"
                );
            }
        }
    }

    /// Card transactions: an id, the time, a card (the key) as text, a
    /// merchant from a skewed set, an amount in cents-exact money, a country
    /// fixed per card, a flag and a channel.
    fn cards() -> EventSchema {
        toml::from_str(
            r#"
            time = "at"
            kafka_key = "card"
            fields = [
              { name = "id", type = "integer", draw = { kind = "sequence", start = 100, step = 2 } },
              { name = "at", type = "timestamp" },
              { name = "card", type = "string", draw = { kind = "pattern", pattern = "card-{}\"x", of = { kind = "key" } } },
              { name = "merchant", type = "integer", draw = { kind = "zipf", n = 50, exponent = 1.2 } },
              { name = "amount", type = "float", decimals = 2, draw = { kind = "normal", mean = 40.0, sd = 30.0, min = 0.5, max = 500.0 } },
              { name = "country", type = "enum", values = ["DE", "FR", "US"], draw = { kind = "per_key", of = { kind = "categorical", weights = [1, 1, 2] } } },
              { name = "online", type = "boolean", draw = { kind = "categorical", values = [true, false], weights = [3, 1] } },
              { name = "channel", type = "string", draw = { kind = "constant", value = "pos" } },
              { name = "items", type = "integer", draw = { kind = "uniform", min = 1, max = 3 } },
              { name = "fee", type = "float", draw = { kind = "uniform", min = 0.0, max = 1.0 } },
            ]
            "#,
        )
        .expect("a schema")
    }

    #[test]
    fn a_declared_schema_writes_every_field_as_declared_and_the_same_each_time() {
        let spec = spec();
        let writer = EventWriter::new(&cards(), &spec).expect("valid");
        let (mut value, mut key, mut again, mut again_key) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut country_of_card = std::collections::HashMap::new();
        let mut online = 0;
        for index in 0..5_000u64 {
            let card = index % 40;
            writer.write(
                index,
                card,
                1_700_000_000_000 + index as i64,
                &mut value,
                Some(&mut key),
            );
            writer.write(
                index,
                card,
                1_700_000_000_000 + index as i64,
                &mut again,
                Some(&mut again_key),
            );
            assert_eq!(
                (&value, &key),
                (&again, &again_key),
                "event {index} is a pure function"
            );
            let event: Json = serde_json::from_slice(&value).expect("JSON");
            let names: Vec<&String> = event.as_object().unwrap().keys().collect();
            assert_eq!(names.len(), 11, "ten fields and the padding: {event}");
            assert_eq!(event["id"], 100 + 2 * index);
            assert_eq!(event["at"], 1_700_000_000_000 + index);
            assert_eq!(event["card"], format!("card-{card}\"x"));
            assert_eq!(key, format!("card-{card}\"x").into_bytes());
            assert!(event["merchant"].as_u64().unwrap() < 50);
            let amount = event["amount"].as_f64().unwrap();
            assert!((0.5..=500.0).contains(&amount), "{amount}");
            assert_eq!((amount * 100.0).round() / 100.0, amount, "two decimals: {amount}");
            let country = event["country"].as_str().unwrap().to_string();
            assert!(["DE", "FR", "US"].contains(&country.as_str()));
            assert_eq!(
                country_of_card.entry(card).or_insert(country.clone()),
                &country,
                "fixed per card"
            );
            online += usize::from(event["online"] == true);
            assert_eq!(event["channel"], "pos");
            assert!((1..=3).contains(&event["items"].as_i64().unwrap()));
            assert!((0.0..1.0).contains(&event["fee"].as_f64().unwrap()));
        }
        assert!((3_500..4_000).contains(&online), "3 in 4 online: {online}");
        let countries: std::collections::HashSet<&String> = country_of_card.values().collect();
        assert!(countries.len() > 1, "cards differ in country");
    }

    #[test]
    fn a_bad_schema_is_refused_naming_the_field() {
        let refused = |edit: &dyn Fn(&mut EventSchema)| {
            let mut schema = cards();
            edit(&mut schema);
            EventWriter::new(&schema, &spec())
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            refused(&|s| s.time = "when".into()),
            "time = `when` names no field"
        );
        assert_eq!(
            refused(&|s| s.time = "id".into()),
            "time = `id` must name a timestamp field, not an integer one"
        );
        assert_eq!(
            refused(&|s| s.kafka_key = "amount".into()),
            "kafka_key = `amount` must name an integer, string or enum field, not a float one"
        );
        assert_eq!(
            refused(&|s| s.fields[3].draw = Some(Draw::Ipv4 { distinct: 3 })),
            "field `merchant`: an integer field cannot take draw `ipv4`"
        );
        assert_eq!(
            refused(&|s| s.fields[8].draw = Some(Draw::Uniform { min: 1.5, max: 3.0 })),
            "field `items`: `uniform` min must be a whole number for an integer field, not 1.5"
        );
        assert_eq!(
            refused(&|s| s.fields.push(s.fields[0].clone())),
            "field `id` is declared twice"
        );
        assert_eq!(
            refused(&|s| s.fields[5].values.push("D E".into())),
            "field `country`: `per_key` of: `categorical` has 4 values but 3 weights"
        );
        assert!(
            refused(&|s| s.fields[6].name = "is online".into()).starts_with("field name `is online` must be")
        );
        assert!(refused(&|s| s.fields[6].name = "pad".into()).starts_with("field name `pad` is taken"));
    }
}
