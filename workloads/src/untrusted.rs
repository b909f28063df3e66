//! The code that reads bytes from outside, as the fuzz targets
//! (`workloads/fuzz`) and their regression test drive it: any input may be
//! refused with an error, none may panic.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::declared_job::DeclaredJob;
use crate::declared_run::{RecordPlan, lower};
use crate::event::{EventKind, decode};
use crate::event_writer::EventWriter;
use crate::expr::{Type, parse};
use crate::format::Format;
use crate::generator::WorkloadSpec;
use crate::job::{CATALOGUE, CampaignTable, catalogue_job};
use crate::replay::{Replay, Timing};
use crate::schema::{EventSchema, PAYMENT_SCHEMA};
use crate::schema_decoder::SchemaDecoder;
use crate::suite::Suite;

/// Decodes `bytes` as each kind of event and runs what decodes through every
/// catalogue job's key extraction.
pub fn decode_as_every_job(bytes: &[u8]) {
    let campaigns = CampaignTable::new(1, 100);
    for name in CATALOGUE {
        let Some(job) = catalogue_job(name) else { continue };
        if let Ok(event) = decode(job.input, bytes) {
            let _ = job.extract(&event, &campaigns);
        }
    }
}

/// Parses `bytes` as a suite file, validates it and expands its jobs.
pub fn parse_as_suite(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(suite) = Suite::parse(text, "fuzz.toml", &crate::engine::examples())
    {
        let _ = suite.job_specs();
    }
}

/// Parses `bytes` as a job expression; what parses must print back to
/// text that parses to the same expression, and type-check against the
/// ad schema with a type or an error.
pub fn parse_as_expression(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(expr) = parse(text) else { return };
    let printed = expr.to_string();
    assert_eq!(
        parse(&printed).as_ref(),
        Ok(&expr),
        "{text:?} printed as {printed:?}"
    );
    let schema = EventSchema::builtin(EventKind::Ad, &WorkloadSpec::default());
    let _ = expr.check(&schema, text);
}

/// Parses `bytes` as an event schema (TOML); one that validates must write
/// events that are JSON objects.
pub fn parse_as_schema(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(schema) = toml::from_str::<EventSchema>(text) else {
        return;
    };
    let Ok(writer) = EventWriter::new(&schema, &WorkloadSpec::default()) else {
        return;
    };
    let (mut value, mut key) = (Vec::new(), Vec::new());
    for index in [0, 1, u64::MAX] {
        writer.write(index, index % 7, 1_700_000_000_000, &mut value, Some(&mut key));
        let written: Result<serde_json::Map<String, serde_json::Value>, _> = serde_json::from_slice(&value);
        assert!(
            written.is_ok(),
            "{text:?} wrote {:?}",
            String::from_utf8_lossy(&value)
        );
    }
}

/// The job [`decode_as_declared`] runs: a filter over every type, and
/// arithmetic that may overflow or divide by zero.
const DECLARED_JOB: &str = r#"
input = "payment"
filter = "(country = 'DE' or online) and note != 'x' and rate * amount_cents >= 0 or not online"
derive = [{ name = "spent", expr = "amount_cents * amount_cents - card % (amount_cents + fee_cents) + at" }]
key = ["card"]
window = { kind = "tumbling", size_ms = 1000 }
aggregates = ["count", "sum(spent)"]
"#;

/// Decodes `bytes` as a JSON record of [`PAYMENT_SCHEMA`] (a field of every
/// type) and runs it through a declared job's record plan; a record that
/// decodes has a value of its field's type for every field.
pub fn decode_as_declared(bytes: &[u8]) {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    decode_with(COMPILED.get_or_init(|| compile(Format::Json)), bytes);
}

/// [`decode_as_declared`] for an Avro record in the Confluent wire format.
pub fn decode_avro_as_declared(bytes: &[u8]) {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    decode_with(COMPILED.get_or_init(|| compile(Format::Avro)), bytes);
}

/// [`decode_as_declared`] for a Protobuf record in the Confluent wire format.
pub fn decode_protobuf_as_declared(bytes: &[u8]) {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    decode_with(COMPILED.get_or_init(|| compile(Format::Protobuf)), bytes);
}

/// [`PAYMENT_SCHEMA`], its decoder and [`DECLARED_JOB`]'s plan, for one format.
type Compiled = (EventSchema, SchemaDecoder, RecordPlan);

fn compile(format: Format) -> Compiled {
    let schema: EventSchema = toml::from_str(PAYMENT_SCHEMA).expect("the fuzz target's schema");
    let job: DeclaredJob = toml::from_str(DECLARED_JOB).expect("the fuzz target's job");
    let schemas = BTreeMap::from([("payment".to_string(), schema.clone())]);
    let lowered = lower("fuzz", &job, &schemas).expect("the fuzz target's job runs");
    let plan = RecordPlan::new(lowered.declared.as_deref().expect("declared")).expect("a plan");
    let decoder = SchemaDecoder::new(&schema).reading(format);
    (schema, decoder, plan.reading(format))
}

fn decode_with((schema, decoder, plan): &Compiled, bytes: &[u8]) {
    let Ok(values) = decoder.decode(bytes) else {
        assert!(
            plan.interpret(bytes).is_err(),
            "the plan read what the decoder refused"
        );
        return;
    };
    for (value, field) in values.iter().zip(&schema.fields) {
        assert_eq!(value.kind(), Type::of(field.kind), "field {}", field.name);
    }
    assert_eq!(values.len(), schema.fields.len());
    assert_eq!(plan.interpret(bytes), Ok(plan.keyed(values)));
}

/// Reads `bytes` as a JSON-lines file of [`PAYMENT_SCHEMA`] events to
/// replay; each event line, written back as the generator sends it with
/// its time moved, decodes to the values the oracle reads.
pub fn replay_as_payments(bytes: &[u8]) {
    static SCHEMA: OnceLock<(EventSchema, SchemaDecoder)> = OnceLock::new();
    let (schema, decoder) = SCHEMA.get_or_init(|| {
        let schema: EventSchema = toml::from_str(PAYMENT_SCHEMA).expect("the fuzz target's schema");
        (schema.clone(), SchemaDecoder::new(&schema))
    });
    let Ok(replay) = Replay::parse(bytes, "fuzz.jsonl", schema, Timing::Recorded) else {
        return;
    };
    let mut written = Vec::new();
    for index in 0..replay.len() as u64 {
        let moved = 1_700_000_000_000 - index as i64;
        replay.write(index, moved, &mut written);
        match replay.values(index, moved) {
            Some(values) => assert_eq!(decoder.decode(&written), Ok(values), "line {index}"),
            None => assert!(
                decoder.decode(&written).is_err(),
                "a rejected line {index} decodes"
            ),
        }
        let _ = replay.send_time_us(index, &crate::rate::RateProfile::constant(1.0));
    }
}

/// What a fuzz target feeds its bytes to.
pub type Drive = fn(&[u8]);

/// Each fuzz target by name, with the function it drives: what the
/// regression test replays the kept inputs of each target through.
pub const TARGETS: [(&str, Drive); 8] = [
    ("decode_event", decode_as_every_job),
    ("decode_declared", decode_as_declared),
    ("decode_avro", decode_avro_as_declared),
    ("decode_protobuf", decode_protobuf_as_declared),
    ("parse_suite", parse_as_suite),
    ("parse_expression", parse_as_expression),
    ("parse_schema", parse_as_schema),
    ("replay_lines", replay_as_payments),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept inputs seed the fuzzers, so they must reach past the
    /// parsers: a schema that validates, an expression that type-checks,
    /// lines that are events.
    #[test]
    fn the_kept_schema_expression_and_record_reach_past_their_parsers() {
        let kept = |path: &str| {
            std::fs::read_to_string(format!("{}/fuzz/regressions/{path}", env!("CARGO_MANIFEST_DIR")))
                .expect(path)
        };
        let schema: EventSchema = toml::from_str(&kept("parse_schema/every-draw.toml")).expect("a schema");
        assert_eq!(EventWriter::new(&schema, &WorkloadSpec::default()).err(), None);
        let record = kept("decode_declared/every-type.json");
        let schema_of_record: EventSchema = toml::from_str(PAYMENT_SCHEMA).expect("a schema");
        assert!(
            SchemaDecoder::new(&schema_of_record)
                .decode(record.as_bytes())
                .is_ok()
        );
        for (format, path) in [
            (Format::Avro, "decode_avro/every-type.avro"),
            (Format::Protobuf, "decode_protobuf/every-type.pb"),
        ] {
            let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions");
            let kept = std::fs::read(format!("{root}/{path}")).expect(path);
            assert_eq!(
                SchemaDecoder::new(&schema_of_record)
                    .reading(format)
                    .decode(&kept),
                SchemaDecoder::new(&schema_of_record).decode(record.as_bytes()),
                "the kept {format} record holds the kept JSON record's values"
            );
        }
        let lines = kept("replay_lines/mixed.jsonl");
        let replay = Replay::parse(lines.as_bytes(), "mixed", &schema_of_record, Timing::Rate).expect("read");
        assert_eq!((replay.len(), replay.events()), (5, 3));
        let text = kept("parse_expression/every-operator.txt");
        assert_eq!(
            parse(&text).expect("parses").check(&schema, &text),
            Ok(crate::expr::Type::Bool)
        );
    }
}
