//! Avro records as streambench writes and reads them: the Confluent wire
//! format (a zero byte, the writer schema's id in 4 big-endian bytes, then
//! the event as an Avro binary datum) of the record schema generated from
//! the event schema ([`record_schema`]).
//!
//! The record has one field per event field, in the event schema's order,
//! then `pad`, a `string` the workload's padding fills. An integer is a
//! `long`, a float a `double`, a timestamp a `long` of logical type
//! `timestamp-millis`, a boolean a `boolean`, text a `string`, and an enum
//! a `string` too (a suite's enum values need not be Avro names). The
//! binary encoding is written and read here, field by field against that
//! one schema, so that an engine pays for the format and nothing else; the
//! tests check both directions against the `apache-avro` crate.

use serde_json::{Value, json};

use crate::confluent::{self, Cursor};
use crate::schema::{EventSchema, FieldType};
/// The name of the field the workload's padding fills, after the event's own.
pub const PAD_FIELD: &str = "pad";

/// The Avro schema, as JSON, of the records of `schema`.
pub fn record_schema(schema: &EventSchema) -> Value {
    let mut fields: Vec<Value> = schema
        .fields
        .iter()
        .map(|f| json!({"name": f.name, "type": field_type(f.kind)}))
        .collect();
    fields.push(json!({"name": PAD_FIELD, "type": "string"}));
    json!({"type": "record", "name": "Event", "namespace": "streambench", "fields": fields})
}

/// The Avro type of a field of type `kind`.
fn field_type(kind: FieldType) -> Value {
    match kind {
        FieldType::Integer => json!("long"),
        FieldType::Float => json!("double"),
        FieldType::Boolean => json!("boolean"),
        FieldType::String | FieldType::Enum => json!("string"),
        FieldType::Timestamp => json!({"type": "long", "logicalType": "timestamp-millis"}),
    }
}

/// Writes `n` as an Avro `long`: zig-zag encoded, then as a varint.
pub fn write_long(n: i64, out: &mut Vec<u8>) {
    confluent::write_varint(((n << 1) ^ (n >> 63)) as u64, out);
}

/// Writes `x` as an Avro `double`: 8 bytes, little-endian.
pub fn write_double(x: f64, out: &mut Vec<u8>) {
    out.extend_from_slice(&x.to_le_bytes());
}

/// Writes `b` as an Avro `boolean`: one byte, 0 or 1.
pub fn write_boolean(b: bool, out: &mut Vec<u8>) {
    out.push(u8::from(b));
}

/// Writes `text` as an Avro `string`: its length in bytes, then the bytes.
pub fn write_string(text: &[u8], out: &mut Vec<u8>) {
    write_long(text.len() as i64, out);
    out.extend_from_slice(text);
}

/// Reads one record's values in turn; each error says what was wrong,
/// for the dead-letter table.
#[derive(Debug)]
pub struct Reader<'a>(Cursor<'a>);

impl<'a> Reader<'a> {
    /// A reader of the datum in `record`, past its header; the error says
    /// why `record` is not in the wire format of schema `schema_id`.
    pub fn open(record: &'a [u8], schema_id: u32) -> Result<Reader<'a>, String> {
        let datum = confluent::after_header(record, schema_id, "Avro")?;
        Ok(Reader(Cursor::new(datum)))
    }

    /// The next `long`.
    pub fn long(&mut self) -> Result<i64, String> {
        let z = self.0.varint()?;
        Ok((z >> 1) as i64 ^ -((z & 1) as i64))
    }

    /// The next `double`.
    pub fn double(&mut self) -> Result<f64, String> {
        let bytes = self.0.take(8)?;
        Ok(f64::from_le_bytes(bytes.try_into().expect("took 8 bytes")))
    }

    /// The next `boolean`.
    pub fn boolean(&mut self) -> Result<bool, String> {
        match self.0.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(format!("a boolean byte of {other}, not 0 or 1")),
        }
    }

    /// The next `string`, checked to be UTF-8.
    pub fn string(&mut self) -> Result<&'a str, String> {
        let len = self.long()?;
        let len = usize::try_from(len).map_err(|_| format!("a string of length {len}"))?;
        let bytes = self.0.take(len)?;
        std::str::from_utf8(bytes).map_err(|e| format!("a string that is not UTF-8: {e}"))
    }

    /// Ends the record: the error says how many bytes follow it.
    pub fn finish(self) -> Result<(), String> {
        match self.0.remaining() {
            0 => Ok(()),
            extra => Err(format!("{extra} bytes after the record's last field")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confluent::{HEADER_BYTES, SCHEMA_ID, write_header};
    use crate::event::EventKind;
    use crate::event_writer::EventWriter;
    use crate::expr::Val;
    use crate::format::Format;
    use crate::generator::WorkloadSpec;
    use crate::schema::payment_schema;
    use crate::schema_decoder::SchemaDecoder;
    use apache_avro::Schema;
    use apache_avro::reader::datum::GenericDatumReader;
    use apache_avro::types::Value as AvroValue;
    use apache_avro::writer::datum::GenericDatumWriter;
    use proptest::prelude::*;

    fn record(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(SCHEMA_ID, &mut out);
        write(&mut out);
        out
    }

    proptest! {
        #[test]
        fn what_is_written_reads_back(n: i64, x: f64, b: bool, text: String) {
            let bytes = record(|out| {
                write_long(n, out);
                write_double(x, out);
                write_boolean(b, out);
                write_string(text.as_bytes(), out);
            });
            let mut reader = Reader::open(&bytes, SCHEMA_ID).expect("a header");
            prop_assert_eq!(reader.long(), Ok(n));
            prop_assert_eq!(reader.double().map(f64::to_bits), Ok(x.to_bits()));
            prop_assert_eq!(reader.boolean(), Ok(b));
            prop_assert_eq!(reader.string(), Ok(text.as_str()));
            prop_assert_eq!(reader.finish(), Ok(()));
        }

        #[test]
        fn a_long_is_written_as_apache_avro_writes_it(n: i64) {
            let mut ours = Vec::new();
            write_long(n, &mut ours);
            let theirs = GenericDatumWriter::builder(&Schema::Long)
                .build()
                .and_then(|writer| writer.write_value_to_vec(AvroValue::Long(n)))
                .expect("a long");
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn no_bytes_make_the_reader_panic(bytes: Vec<u8>) {
            if let Ok(mut reader) = Reader::open(&bytes, SCHEMA_ID) {
                let _ = reader.long();
                let _ = reader.string();
                let _ = reader.double();
                let _ = reader.boolean();
                let _ = reader.finish();
            }
        }
    }

    #[test]
    fn a_record_not_in_the_wire_format_is_refused_with_the_reason() {
        let cases: [(&[u8], &str); 4] = [
            (&[], "empty"),
            (&[0xff, 0, 0, 0, 1], "magic byte"),
            (&[0, 0, 0], "schema id"),
            (&[0, 0, 0, 0, 9], "schema id 9"),
        ];
        for (bytes, says) in cases {
            let error = Reader::open(bytes, SCHEMA_ID).unwrap_err();
            assert!(error.contains(says), "{bytes:?}: {error}");
        }
    }

    #[test]
    fn a_cut_record_and_trailing_bytes_are_named() {
        let bytes = record(|out| write_string(b"fare", out));
        let mut cut = Reader::open(&bytes[..bytes.len() - 1], SCHEMA_ID).expect("a header");
        assert!(cut.string().unwrap_err().contains("ends inside"));
        let mut longer = bytes.clone();
        longer.push(7);
        let mut reader = Reader::open(&longer, SCHEMA_ID).expect("a header");
        reader.string().expect("a string");
        assert!(reader.finish().unwrap_err().contains("1 bytes after"));
        let eleven = record(|out| out.extend_from_slice(&[0xff; 10]));
        let too_long = Reader::open(&eleven, SCHEMA_ID).expect("a header").long();
        assert!(too_long.unwrap_err().contains("longer than 64 bits"));
    }

    #[test]
    fn events_written_in_avro_read_alike_through_apache_avro_and_ours_and_as_their_json() {
        let spec = |format| WorkloadSpec {
            padding_bytes: 5,
            format,
            ..WorkloadSpec::default()
        };
        let schemas = [
            EventSchema::builtin(EventKind::Ad, &spec(Format::Json)),
            EventSchema::builtin(EventKind::Measurement, &spec(Format::Json)),
            payment_schema(),
        ];
        for schema in schemas {
            let parsed = Schema::parse(&record_schema(&schema)).expect("apache-avro takes the schema");
            let json = EventWriter::new(&schema, &spec(Format::Json)).expect("a schema");
            let avro = EventWriter::new(&schema, &spec(Format::Avro)).expect("a schema");
            let ours = SchemaDecoder::new(&schema).reading(Format::Avro);
            let (mut record, mut json_record) = (Vec::new(), Vec::new());
            for index in 0..500 {
                let (key, time) = (index % 37, 1_700_000_000_000 + index as i64);
                avro.write(index, key, time, &mut record, None);
                json.write(index, key, time, &mut json_record, None);
                let read = ours.decode(&record).expect("our record");
                assert_eq!(
                    Ok(&read),
                    SchemaDecoder::new(&schema).decode(&json_record).as_ref()
                );
                let theirs = read_with_apache_avro(&parsed, &record);
                assert_eq!(theirs, values_as_avro(&schema, &read, "xxxxx"), "event {index}");
                let mut rewritten = Vec::new();
                write_header(SCHEMA_ID, &mut rewritten);
                GenericDatumWriter::builder(&parsed)
                    .build()
                    .and_then(|writer| writer.write_value(&mut rewritten, theirs))
                    .expect("apache-avro writes the record back");
                assert_eq!(rewritten, record, "event {index}, written back by apache-avro");
            }
        }
    }

    /// The record `bytes` (in the wire format) read by apache-avro, which
    /// must read every byte.
    fn read_with_apache_avro(schema: &Schema, bytes: &[u8]) -> AvroValue {
        let mut datum = &bytes[HEADER_BYTES..];
        let reader = GenericDatumReader::builder(schema).build().expect("a reader");
        let value = reader
            .read_value(&mut datum)
            .expect("apache-avro reads our record");
        assert!(datum.is_empty(), "{} bytes left unread", datum.len());
        value
    }

    /// `values` of `schema`'s fields, and `pad`, as apache-avro's record.
    fn values_as_avro(schema: &EventSchema, values: &[Val], pad: &str) -> AvroValue {
        let mut fields: Vec<(String, AvroValue)> = schema
            .fields
            .iter()
            .zip(values)
            .map(|(field, value)| {
                let value = match (value, field.kind) {
                    (Val::Int(n), FieldType::Timestamp) => AvroValue::TimestampMillis(*n),
                    (Val::Int(n), _) => AvroValue::Long(*n),
                    (Val::Float(x), _) => AvroValue::Double(*x),
                    (Val::Bool(b), _) => AvroValue::Boolean(*b),
                    (Val::Text(t), _) => AvroValue::String(t.clone()),
                };
                (field.name.clone(), value)
            })
            .collect();
        fields.push((PAD_FIELD.into(), AvroValue::String(pad.into())));
        AvroValue::Record(fields)
    }
}
