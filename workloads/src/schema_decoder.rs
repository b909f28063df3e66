//! Reading a record of a declared schema into the values a job's plan
//! reads, in the schema's field order. In JSON, a record is one object,
//! each of the schema's fields present once with a value of its type; other
//! keys (the workload's `pad`, fields a producer added) are skipped. In
//! Avro, it is the datum [`crate::avro`] lays out; in Protobuf, the message
//! [`crate::protobuf`] lays out, each of the schema's fields given, others
//! skipped. Anything else is a dead letter, with the reason.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::avro;
use crate::confluent;
use crate::event::{DecodeError, MAX_EVENT_BYTES};
use crate::expr::Val;
use crate::format::Format;
use crate::protobuf::{self, WireValue};
use crate::schema::{EventSchema, FieldType};

/// A schema compiled for decoding: each field's name, type and enum values.
#[derive(Debug, Clone)]
pub struct SchemaDecoder {
    fields: Vec<FieldCheck>,
    format: Format,
    /// The room each row is made with.
    row_len: usize,
}

#[derive(Debug, Clone)]
struct FieldCheck {
    name: String,
    kind: FieldType,
    values: Vec<String>,
    /// Whether its value is kept; one nobody reads is checked, and a
    /// stand-in (`false`) takes its place.
    keep: bool,
}

impl SchemaDecoder {
    /// The decoder of `schema`'s records.
    pub fn new(schema: &EventSchema) -> SchemaDecoder {
        SchemaDecoder::keeping(schema, &vec![true; schema.fields.len()], schema.fields.len())
    }

    /// The decoder of `schema`'s records for a plan that reads field *i*
    /// only where `keep[i]` (every field is still checked), and makes rows
    /// of `row_len` columns: each row's room is made once.
    pub fn keeping(schema: &EventSchema, keep: &[bool], row_len: usize) -> SchemaDecoder {
        let fields = schema
            .fields
            .iter()
            .zip(keep)
            .map(|(f, &keep)| FieldCheck {
                name: f.name.clone(),
                kind: f.kind,
                values: f.values.clone(),
                keep,
            })
            .collect();
        SchemaDecoder {
            fields,
            format: Format::Json,
            row_len: row_len.max(schema.fields.len()),
        }
    }

    /// This decoder, reading records written in `format`.
    pub fn reading(mut self, format: Format) -> SchemaDecoder {
        self.format = format;
        self
    }

    /// The values of the record `bytes`, one per field in the schema's
    /// order; or why it is not a record of the schema.
    pub fn decode(&self, bytes: &[u8]) -> Result<Vec<Val>, DecodeError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(DecodeError::Oversized {
                size: bytes.len(),
                limit: MAX_EVENT_BYTES,
            });
        }
        let mut values = Vec::with_capacity(self.row_len);
        self.decode_into(bytes, &mut values)?;
        Ok(values)
    }

    /// [`SchemaDecoder::decode`] into `values` (cleared first), so that a
    /// reader of many records makes room for a row once.
    pub fn decode_into(&self, bytes: &[u8], values: &mut Vec<Val>) -> Result<(), DecodeError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(DecodeError::Oversized {
                size: bytes.len(),
                limit: MAX_EVENT_BYTES,
            });
        }
        match self.format {
            Format::Json => self.decode_json(bytes, values),
            Format::Avro => self.decode_avro(bytes, values).map_err(DecodeError::Invalid),
            Format::Protobuf => self.decode_protobuf(bytes, values).map_err(DecodeError::Invalid),
        }
    }

    fn decode_json(&self, bytes: &[u8], values: &mut Vec<Val>) -> Result<(), DecodeError> {
        let mut reader = serde_json::Deserializer::from_slice(bytes);
        reader
            .deserialize_map(RecordVisitor(self, values))
            .and_then(|()| reader.end())
            .map_err(|e| DecodeError::Invalid(e.to_string()))
    }

    /// Reads the fields in turn, then the padding, and nothing after it.
    fn decode_avro(&self, bytes: &[u8], values: &mut Vec<Val>) -> Result<(), String> {
        let mut reader = avro::Reader::open(bytes, confluent::SCHEMA_ID)?;
        values.clear();
        for field in &self.fields {
            let value = field.read_avro(&mut reader);
            values.push(value.map_err(|e| format!("field `{}`: {e}", field.name))?);
        }
        reader
            .string()
            .map_err(|e| format!("field `{}`: {e}", avro::PAD_FIELD))?;
        reader.finish()
    }

    /// Reads the fields in any order (of a field given twice, the last
    /// counts, as in Protobuf), skipping numbers the schema has not (the
    /// padding's among them); each of the schema's fields must be given.
    fn decode_protobuf(&self, bytes: &[u8], values: &mut Vec<Val>) -> Result<(), String> {
        let mut reader = protobuf::Reader::open(bytes, confluent::SCHEMA_ID)?;
        let fields = &self.fields;
        values.clear();
        values.resize(fields.len(), Val::Bool(false));
        let mut given = Given::new(fields.len());
        while let Some((number, value)) = reader.next_field()? {
            let at = usize::try_from(number).map_or(usize::MAX, |n| n - 1);
            let Some(field) = fields.get(at) else { continue };
            values[at] = field
                .read_protobuf(value)
                .map_err(|e| format!("field `{}`: {e}", field.name))?;
            given.insert(at);
        }
        match given.first_missing(fields.len()) {
            Some(at) => Err(format!("missing field `{}`", fields[at].name)),
            None => Ok(()),
        }
    }
}

impl FieldCheck {
    /// The field's value, next in `reader`, checked as JSON's are.
    fn read_avro(&self, reader: &mut avro::Reader<'_>) -> Result<Val, String> {
        Ok(match self.kind {
            FieldType::Integer | FieldType::Timestamp => Val::Int(reader.long()?),
            FieldType::Float => Val::Float(reader.double()?),
            FieldType::Boolean => Val::Bool(reader.boolean()?),
            FieldType::String | FieldType::Enum => self.text(reader.string()?)?,
        })
    }

    /// The field's value from what Protobuf laid out, checked as JSON's are.
    fn read_protobuf(&self, value: WireValue<'_>) -> Result<Val, String> {
        let wanted = protobuf::wire_type(self.kind);
        if value.wire_type() != wanted {
            return Err(format!(
                "laid out as wire type {}, where {} is wire type {}",
                value.wire_type() as u8,
                self.kind.with_article(),
                wanted as u8
            ));
        }
        Ok(match value {
            WireValue::Varint(n) if self.kind == FieldType::Boolean => Val::Bool(n != 0),
            WireValue::Varint(n) => Val::Int(n as i64),
            WireValue::Fixed64(bits) => Val::Float(f64::from_bits(bits)),
            WireValue::Len(bytes) => {
                let text = std::str::from_utf8(bytes).map_err(|e| format!("text that is not UTF-8: {e}"))?;
                self.text(text)?
            }
            WireValue::Fixed32(_) => unreachable!("no field type is laid out as four bytes"),
        })
    }

    /// The value of a text or enum field that reads `text` (a stand-in if
    /// nobody reads it); an enum's must be one of its values.
    fn text(&self, text: &str) -> Result<Val, String> {
        if self.kind == FieldType::Enum && !self.values.iter().any(|v| v == text) {
            return Err(self.not_a_value(text));
        }
        Ok(match self.keep {
            true => Val::Text(text.to_string()),
            false => Val::Bool(false),
        })
    }

    /// Why `text` is not a value of this enum field.
    fn not_a_value(&self, text: &str) -> String {
        format!("{text:?} is not one of its values ({})", self.values.join(", "))
    }
}

struct RecordVisitor<'s>(&'s SchemaDecoder, &'s mut Vec<Val>);

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fields = &self.0.fields;
        // The values, with a stand-in until each field is read, and which
        // fields were read beside them (no allocation of its own).
        let values = self.1;
        values.clear();
        values.resize(fields.len(), Val::Bool(false));
        let mut given = Given::new(fields.len());
        // Producers write fields in one order: the next key is tried first.
        let mut next = 0;
        while let Some(at) = map.next_key_seed(KeySeed { fields, next })? {
            let Some(at) = at else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let field = &fields[at];
            if !given.insert(at) {
                return Err(de::Error::custom(format_args!(
                    "field `{}` is given twice",
                    field.name
                )));
            }
            values[at] = map.next_value_seed(ValueSeed(field))?;
            next = at + 1;
        }
        match given.first_missing(fields.len()) {
            Some(at) => Err(missing_field(&fields[at].name)),
            None => Ok(()),
        }
    }
}

/// Which of a schema's fields a record has given: a bit per field, on the
/// stack for up to 128 fields.
enum Given {
    Few(u128),
    Many(Vec<bool>),
}

impl Given {
    fn new(fields: usize) -> Given {
        match fields <= 128 {
            true => Given::Few(0),
            false => Given::Many(vec![false; fields]),
        }
    }

    /// Marks field `at` given; false if it already was.
    fn insert(&mut self, at: usize) -> bool {
        match self {
            Given::Few(bits) => {
                let bit = 1u128 << at;
                let new = *bits & bit == 0;
                *bits |= bit;
                new
            }
            Given::Many(given) => !std::mem::replace(&mut given[at], true),
        }
    }

    /// The first of `fields` fields not given, if any.
    fn first_missing(&self, fields: usize) -> Option<usize> {
        match self {
            Given::Few(bits) => Some(bits.trailing_ones() as usize).filter(|&at| at < fields),
            Given::Many(given) => given.iter().position(|g| !g),
        }
    }
}

/// A missing field's error with its name (serde's own takes a `'static`).
fn missing_field<E: de::Error>(name: &str) -> E {
    E::custom(format_args!("missing field `{name}`"))
}

/// Reads a key as the position of the field it names, if any; field
/// `next` is tried first.
struct KeySeed<'s> {
    fields: &'s [FieldCheck],
    next: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        // As bytes (unescaped): a key equal to a field's name is valid
        // UTF-8 already, so only one that names no field is checked.
        deserializer.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<Option<usize>, E> {
        let named = |f: &FieldCheck| f.name.as_bytes() == key;
        if self.fields.get(self.next).is_some_and(named) {
            return Ok(Some(self.next));
        }
        if let Some(at) = self.fields.iter().position(named) {
            return Ok(Some(at));
        }
        std::str::from_utf8(key).map_err(|e| E::custom(format_args!("a key is not UTF-8: {e}")))?;
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        self.visit_bytes(key.as_bytes())
    }
}

/// Reads one field's value, checked against its type.
struct ValueSeed<'s>(&'s FieldCheck);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Val;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Val, D::Error> {
        match self.0.kind {
            // Straight to the number: the commonest field, read without
            // asking what the value is first.
            FieldType::Integer | FieldType::Timestamp => deserializer.deserialize_i64(self),
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl ValueSeed<'_> {
    fn wrong<E: de::Error>(&self, found: &str) -> E {
        let field = self.0;
        E::custom(format_args!(
            "field `{}` must be {}, not {found}",
            field.name,
            field.kind.with_article()
        ))
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Val;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}` as {}", self.0.name, self.0.kind.with_article())
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Val, E> {
        match self.0.kind {
            FieldType::Integer | FieldType::Timestamp => Ok(Val::Int(n)),
            FieldType::Float => Ok(Val::Float(n as f64)),
            _ => Err(self.wrong("a number")),
        }
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Val, E> {
        match i64::try_from(n) {
            Ok(n) => self.visit_i64(n),
            Err(_) if self.0.kind == FieldType::Float => Ok(Val::Float(n as f64)),
            Err(_) => Err(self.wrong("a number beyond 64 bits")),
        }
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Val, E> {
        match self.0.kind {
            FieldType::Float => Ok(Val::Float(x)),
            _ => Err(self.wrong("a number with a fraction")),
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Val, E> {
        let kept = || match self.0.keep {
            true => Val::Text(text.to_string()),
            false => Val::Bool(false),
        };
        match self.0.kind {
            FieldType::String => Ok(kept()),
            FieldType::Enum if self.0.values.iter().any(|v| v == text) => Ok(kept()),
            FieldType::Enum => Err(E::custom(format_args!(
                "field `{}`: {}",
                self.0.name,
                self.0.not_a_value(text)
            ))),
            _ => Err(self.wrong("text")),
        }
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Val, E> {
        match self.0.kind {
            FieldType::Boolean => Ok(Val::Bool(b)),
            _ => Err(self.wrong("true or false")),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
        Err(self.wrong("null"))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Val, A::Error> {
        Err(self.wrong("a list"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Val, A::Error> {
        Err(self.wrong("an object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::event_writer::EventWriter;
    use crate::generator::WorkloadSpec;
    use crate::schema::payment_schema;

    #[test]
    fn what_the_writer_writes_decodes_to_the_writers_values() {
        let spec = WorkloadSpec {
            padding_bytes: 7,
            ..WorkloadSpec::default()
        };
        for schema in [
            payment_schema(),
            EventSchema::builtin(EventKind::Ad, &spec),
            EventSchema::builtin(EventKind::Measurement, &spec),
        ] {
            let writer = EventWriter::new(&schema, &spec).expect("valid");
            let decoder = SchemaDecoder::new(&schema);
            let mut bytes = Vec::new();
            for index in 0..2_000 {
                writer.write(
                    index,
                    index % 13,
                    1_700_000_000_000 + index as i64,
                    &mut bytes,
                    None,
                );
                assert_eq!(
                    decoder.decode(&bytes),
                    Ok(writer.values(index, index % 13, 1_700_000_000_000 + index as i64)),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }

    /// A schema of a time `t`, a key `k`, then `more` fields (TOML).
    fn time_and_key_then(more: &str) -> EventSchema {
        let more = if more.is_empty() {
            String::new()
        } else {
            format!(", {more}")
        };
        toml::from_str(&format!(
            r#"
            time = "t"
            kafka_key = "k"
            fields = [{{ name = "t", type = "timestamp" }}, {{ name = "k", type = "integer", draw = {{ kind = "key" }} }}{more}]
            "#
        ))
        .expect("a schema")
    }

    #[test]
    fn a_float_reads_as_the_nearest_number_to_its_text() {
        // As Java's Double.parseDouble reads it in Flink and Spark: serde_json
        // without `float_roundtrip` reads "1e-30" one step below.
        let decoder = SchemaDecoder::new(&time_and_key_then(
            r#"{ name = "x", type = "float", draw = { kind = "uniform", min = 0, max = 1 } }"#,
        ));
        for text in [
            "1e-30",
            "0.1",
            "2.2250738585072014e-308",
            "9.999999999999999e-31",
            "123456.789e3",
        ] {
            let record = format!(r#"{{"t":1,"k":2,"x":{text}}}"#);
            let values = decoder.decode(record.as_bytes()).expect("decodes");
            let exact: f64 = text.parse().expect("Rust's parse is exact");
            assert_eq!(values[2], Val::Float(exact), "{text}");
        }
    }

    #[test]
    fn keys_are_read_unescaped_in_any_order_and_one_naming_no_field_must_be_utf8() {
        let decoder = SchemaDecoder::new(&time_and_key_then(""));
        let read = |record: &[u8]| decoder.decode(record);
        let want = Ok(vec![Val::Int(1), Val::Int(2)]);
        assert_eq!(read(br#"{"t":1,"k":2}"#), want);
        assert_eq!(read(br#"{"k":2,"other":[1],"t":1}"#), want);
        assert_eq!(read(br#"{"t":1,"k":2}"#), want, "an escaped name is its field");
        let not_utf8 = read(b"{\"t\":1,\"k\":2,\"\xff\":3}").expect_err("refused");
        assert!(not_utf8.to_string().contains("a key is not UTF-8"), "{not_utf8}");
        let twice = read(br#"{"t":1,"k":2,"t":3}"#).expect_err("refused");
        assert!(twice.to_string().contains("field `t` is given twice"), "{twice}");
        let missing = read(br#"{"k":2}"#).expect_err("refused");
        assert!(missing.to_string().contains("missing field `t`"), "{missing}");
    }

    #[test]
    fn a_record_that_does_not_fit_the_schema_is_refused_with_the_reason() {
        let decoder = SchemaDecoder::new(&payment_schema());
        let good = r#"{"id":1,"at":5,"card":2,"merchant":4,"amount_cents":3,"fee_cents":0,"rate":0.5,"country":"DE","online":true,"note":"n"}"#;
        assert!(decoder.decode(good.as_bytes()).is_ok());
        for (record, reason) in [
            (r#"{"id":1,"at":5}"#, "missing field `card`"),
            (
                &good.replace("\"DE\"", "\"XX\""),
                "not one of its values (US, DE, FR)",
            ),
            (
                &good.replace("\"at\":5", "\"at\":\"5\""),
                "invalid type: string \"5\", expected field `at` as a timestamp",
            ),
            (
                &good.replace("\"card\":2", "\"card\":2.5"),
                "field `card` must be an integer",
            ),
            (
                &good.replace("true", "null"),
                "field `online` must be a boolean, not null",
            ),
            (
                &good.replace("\"id\":1", "\"id\":1,\"id\":2"),
                "field `id` is given twice",
            ),
            (&format!("{good} {{}}"), "trailing characters"),
            ("[1]", "a JSON object"),
            (&good[..good.len() / 2], "EOF"),
        ] {
            let error = decoder.decode(record.as_bytes()).expect_err(record).to_string();
            assert!(error.contains(reason), "{record}: {error}");
        }
        let big = good.replace("\"n\"", &format!("\"{}\"", "x".repeat(MAX_EVENT_BYTES)));
        assert!(matches!(
            decoder.decode(big.as_bytes()),
            Err(DecodeError::Oversized { .. })
        ));
    }
}
