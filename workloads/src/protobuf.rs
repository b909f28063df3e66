//! Protobuf records as streambench writes and reads them: the Confluent
//! wire format (a zero byte, the writer schema's id in 4 big-endian bytes,
//! the message indexes, a single 0 for the file's first message, then the
//! event as a Protobuf message of the schema generated from the event
//! schema, [`message_schema`]).
//!
//! The message has one `optional` field per event field, numbered from 1
//! in the event schema's order, then `pad`, a `string` the workload's
//! padding fills (left out without padding). An integer and a timestamp
//! (ms since the epoch) are an `int64`, a float a `double`, a boolean a
//! `bool`, text and enums a `string`. Every field is `optional` so that a
//! reader can tell a field left out from one that is zero: a record without
//! one of the event's fields is a dead letter, as in JSON. The encoding is
//! written and read here, field by field against that one message, so that
//! an engine pays for the format and nothing else; the tests check both
//! directions against `prost-reflect`, with the schema compiled by `protox`.

use crate::confluent::{self, Cursor};
use crate::schema::{EventSchema, FieldType};

/// Bytes before the message: the magic byte, the schema id, and the
/// message indexes (one 0: the file's first message).
pub const HEADER_BYTES: usize = confluent::HEADER_BYTES + 1;
/// The name of the field the workload's padding fills, after the event's own.
pub const PAD_FIELD: &str = "pad";

/// How a field's value is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// A variable-length integer: `int64`, `bool`.
    Varint = 0,
    /// Eight bytes: `double`.
    Fixed64 = 1,
    /// A length, then that many bytes: `string`.
    Len = 2,
    /// Four bytes: `float`, `fixed32` (streambench writes none).
    Fixed32 = 5,
}

/// The wire type of a field of type `kind`.
pub fn wire_type(kind: FieldType) -> WireType {
    match kind {
        FieldType::Integer | FieldType::Timestamp | FieldType::Boolean => WireType::Varint,
        FieldType::Float => WireType::Fixed64,
        FieldType::String | FieldType::Enum => WireType::Len,
    }
}

/// The `.proto` file of `schema`'s records: one message, `Event`.
pub fn message_schema(schema: &EventSchema) -> String {
    let mut text = String::from("syntax = \"proto3\";\npackage streambench;\n\nmessage Event {\n");
    for (i, field) in schema.fields.iter().enumerate() {
        let kind = match field.kind {
            FieldType::Integer | FieldType::Timestamp => "int64",
            FieldType::Float => "double",
            FieldType::Boolean => "bool",
            FieldType::String | FieldType::Enum => "string",
        };
        text.push_str(&format!("  optional {kind} {} = {};\n", field.name, i + 1));
    }
    let pad = schema.fields.len() + 1;
    text.push_str(&format!("  optional string {PAD_FIELD} = {pad};\n}}\n"));
    text
}

/// Writes the wire format's header: the magic byte, `schema_id`, and the
/// message index of the file's first message.
pub fn write_header(schema_id: u32, out: &mut Vec<u8>) {
    confluent::write_header(schema_id, out);
    out.push(0);
}

/// Writes field `number`'s tag for a value laid out as `wire`.
pub fn write_tag(number: u32, wire: WireType, out: &mut Vec<u8>) {
    write_varint((u64::from(number) << 3) | wire as u64, out);
}

pub use crate::confluent::write_varint;

/// Writes `bytes` as a length-delimited value: the length, then the bytes.
pub fn write_len(bytes: &[u8], out: &mut Vec<u8>) {
    write_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// One field's value as read off the wire, before its type is checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireValue<'a> {
    /// A varint.
    Varint(u64),
    /// Eight bytes, as a little-endian number.
    Fixed64(u64),
    /// A length-delimited value's bytes.
    Len(&'a [u8]),
    /// Four bytes, as a little-endian number.
    Fixed32(u32),
}

impl WireValue<'_> {
    /// How it was laid out.
    pub fn wire_type(&self) -> WireType {
        match self {
            WireValue::Varint(_) => WireType::Varint,
            WireValue::Fixed64(_) => WireType::Fixed64,
            WireValue::Len(_) => WireType::Len,
            WireValue::Fixed32(_) => WireType::Fixed32,
        }
    }
}

/// Reads one message's fields in turn; each error says what was wrong, for
/// the dead-letter table.
#[derive(Debug)]
pub struct Reader<'a>(Cursor<'a>);

impl<'a> Reader<'a> {
    /// A reader of the message in `record`, past its header; the error says
    /// why `record` is not in the wire format of schema `schema_id`.
    pub fn open(record: &'a [u8], schema_id: u32) -> Result<Reader<'a>, String> {
        match confluent::after_header(record, schema_id, "Protobuf")?.split_first() {
            Some((0, message)) => Ok(Reader(Cursor::new(message))),
            Some(_) => Err("its message indexes name a message other than the schema's first".into()),
            None => Err("ends before the wire format's message indexes".into()),
        }
    }

    /// The next field's number and value, or none at the message's end.
    pub fn next_field(&mut self) -> Result<Option<(u64, WireValue<'a>)>, String> {
        let cursor = &mut self.0;
        if cursor.remaining() == 0 {
            return Ok(None);
        }
        let tag = cursor.varint()?;
        let number = tag >> 3;
        if number == 0 {
            return Err("a field numbered 0".into());
        }
        let value = match tag & 7 {
            0 => WireValue::Varint(cursor.varint()?),
            1 => WireValue::Fixed64(u64::from_le_bytes(cursor.take(8)?.try_into().expect("took 8"))),
            2 => {
                let len = cursor.varint()?;
                let len = usize::try_from(len).map_err(|_| format!("a length of {len}"))?;
                WireValue::Len(cursor.take(len)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(cursor.take(4)?.try_into().expect("took 4"))),
            other => {
                return Err(format!(
                    "field {number} has wire type {other}, which proto3 does not use"
                ));
            }
        };
        Ok(Some((number, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confluent::SCHEMA_ID;
    use crate::event::EventKind;
    use crate::event_writer::EventWriter;
    use crate::expr::Val;
    use crate::format::Format;
    use crate::generator::WorkloadSpec;
    use crate::schema::payment_schema;
    use crate::schema_decoder::SchemaDecoder;
    use proptest::prelude::*;
    use prost_reflect::prost::Message;
    use prost_reflect::{DynamicMessage, MessageDescriptor, Value as ProtoValue};

    fn header() -> Vec<u8> {
        let mut out = Vec::new();
        write_header(SCHEMA_ID, &mut out);
        out
    }

    proptest! {
        #[test]
        fn what_is_written_reads_back(number in 1u32..1000, n: u64, text: Vec<u8>) {
            let mut bytes = header();
            write_tag(number, WireType::Varint, &mut bytes);
            write_varint(n, &mut bytes);
            write_tag(number + 1, WireType::Len, &mut bytes);
            write_len(&text, &mut bytes);
            let mut reader = Reader::open(&bytes, SCHEMA_ID).expect("a header");
            prop_assert_eq!(reader.next_field(), Ok(Some((u64::from(number), WireValue::Varint(n)))));
            prop_assert_eq!(reader.next_field(), Ok(Some((u64::from(number) + 1, WireValue::Len(&text[..])))));
            prop_assert_eq!(reader.next_field(), Ok(None));
        }

        #[test]
        fn no_bytes_make_the_reader_panic(bytes: Vec<u8>) {
            if let Ok(mut reader) = Reader::open(&bytes, SCHEMA_ID) {
                while let Ok(Some(_)) = reader.next_field() {}
            }
        }
    }

    #[test]
    fn a_record_not_in_the_wire_format_is_refused_with_the_reason() {
        let cases: [(&[u8], &str); 5] = [
            (&[], "empty"),
            (&[0xff, 0, 0, 0, 1, 0], "magic byte"),
            (&[0, 0, 0, 0, 9, 0], "schema id 9"),
            (&[0, 0, 0, 0, 1], "message indexes"),
            (&[0, 0, 0, 0, 1, 2, 2], "other than the schema's first"),
        ];
        for (bytes, says) in cases {
            let error = Reader::open(bytes, SCHEMA_ID).unwrap_err();
            assert!(error.contains(says), "{bytes:?}: {error}");
        }
        let mut cut = header();
        write_tag(3, WireType::Len, &mut cut);
        write_varint(5, &mut cut);
        cut.extend_from_slice(b"abc");
        let error = Reader::open(&cut, SCHEMA_ID).expect("a header").next_field();
        assert!(error.unwrap_err().contains("ends inside"));
    }

    #[test]
    fn events_written_in_protobuf_read_alike_through_prost_reflect_and_ours_and_as_their_json() {
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
            let message = compiled(&schema);
            let json = EventWriter::new(&schema, &spec(Format::Json)).expect("a schema");
            let proto = EventWriter::new(&schema, &spec(Format::Protobuf)).expect("a schema");
            let ours = SchemaDecoder::new(&schema).reading(Format::Protobuf);
            let (mut record, mut json_record) = (Vec::new(), Vec::new());
            for index in 0..500 {
                let (key, time) = (index % 37, 1_700_000_000_000 + index as i64);
                proto.write(index, key, time, &mut record, None);
                json.write(index, key, time, &mut json_record, None);
                let read = ours.decode(&record).expect("our record");
                assert_eq!(
                    Ok(&read),
                    SchemaDecoder::new(&schema).decode(&json_record).as_ref()
                );
                let theirs = DynamicMessage::decode(message.clone(), &record[HEADER_BYTES..])
                    .expect("prost-reflect reads our record");
                for (field, value) in schema.fields.iter().zip(&read) {
                    let got = theirs.get_field_by_name(&field.name).expect("a field");
                    assert_eq!(*got, as_proto(value), "event {index}, field {}", field.name);
                }
                assert_eq!(
                    *theirs.get_field_by_name(PAD_FIELD).expect("pad"),
                    ProtoValue::String("xxxxx".into())
                );
                let mut rewritten = header();
                rewritten.extend_from_slice(&theirs.encode_to_vec());
                assert_eq!(rewritten, record, "event {index}, written back by prost-reflect");
            }
        }
    }

    /// The `Event` message of `schema`, as `protox` compiles its `.proto`.
    fn compiled(schema: &EventSchema) -> MessageDescriptor {
        let dir = tempfile::tempdir().expect("a folder");
        std::fs::write(dir.path().join("event.proto"), message_schema(schema)).expect("written");
        let pool = protox::Compiler::new([dir.path()])
            .and_then(|mut compiler| compiler.open_file("event.proto").map(|c| c.descriptor_pool()))
            .expect("protox compiles the schema");
        pool.get_message_by_name("streambench.Event")
            .expect("the message")
    }

    fn as_proto(value: &Val) -> ProtoValue {
        match value {
            Val::Int(n) => ProtoValue::I64(*n),
            Val::Float(x) => ProtoValue::F64(*x),
            Val::Bool(b) => ProtoValue::Bool(*b),
            Val::Text(t) => ProtoValue::String(t.clone()),
        }
    }
}
