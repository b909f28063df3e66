//! Reading a record of a declared schema: one JSON object, each of the
//! schema's fields present once with a value of its type, into the values a
//! job's plan reads, in the schema's field order. Other keys (the workload's
//! `pad`, fields a producer added) are skipped. Anything else is a dead
//! letter, with the reason.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::event::{DecodeError, MAX_EVENT_BYTES};
use crate::expr::Val;
use crate::schema::{EventSchema, FieldType};

/// A schema compiled for decoding: each field's name, type and enum values.
#[derive(Debug, Clone)]
pub struct SchemaDecoder {
    fields: Vec<FieldCheck>,
}

#[derive(Debug, Clone)]
struct FieldCheck {
    name: String,
    kind: FieldType,
    values: Vec<String>,
}

impl SchemaDecoder {
    /// The decoder of `schema`'s records.
    pub fn new(schema: &EventSchema) -> SchemaDecoder {
        let fields = schema
            .fields
            .iter()
            .map(|f| FieldCheck {
                name: f.name.clone(),
                kind: f.kind,
                values: f.values.clone(),
            })
            .collect();
        SchemaDecoder { fields }
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
        let mut reader = serde_json::Deserializer::from_slice(bytes);
        let values = reader
            .deserialize_map(RecordVisitor(self))
            .and_then(|values| reader.end().map(|()| values))
            .map_err(|e| DecodeError::Invalid(e.to_string()))?;
        Ok(values)
    }
}

struct RecordVisitor<'s>(&'s SchemaDecoder);

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = Vec<Val>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Val>, A::Error> {
        let fields = &self.0.fields;
        let mut values: Vec<Option<Val>> = vec![None; fields.len()];
        while let Some(at) = map.next_key_seed(KeySeed(fields))? {
            let Some(at) = at else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let field = &fields[at];
            if values[at].is_some() {
                return Err(de::Error::custom(format_args!(
                    "field `{}` is given twice",
                    field.name
                )));
            }
            values[at] = Some(map.next_value_seed(ValueSeed(field))?);
        }
        values
            .into_iter()
            .zip(fields)
            .map(|(value, field)| value.ok_or_else(|| missing_field::<A::Error>(&field.name)))
            .collect()
    }
}

/// A missing field's error with its name (serde's own takes a `'static`).
fn missing_field<E: de::Error>(name: &str) -> E {
    E::custom(format_args!("missing field `{name}`"))
}

/// Reads a key as the position of the field it names, if any.
struct KeySeed<'s>(&'s [FieldCheck]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|f| f.name == key))
    }
}

/// Reads one field's value, checked against its type.
struct ValueSeed<'s>(&'s FieldCheck);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Val;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Val, D::Error> {
        deserializer.deserialize_any(self)
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
        match self.0.kind {
            FieldType::String => Ok(Val::Text(text.to_string())),
            FieldType::Enum if self.0.values.iter().any(|v| v == text) => Ok(Val::Text(text.to_string())),
            FieldType::Enum => Err(E::custom(format_args!(
                "field `{}` is {text:?}, not one of its values ({})",
                self.0.name,
                self.0.values.join(", ")
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
                "field `at` must be a timestamp, not text",
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
