//! Replay of a team's own events: a JSON-lines file (gzip when its name
//! ends in `.gz`) read once and checked line by line against the job's
//! schema with the decoder the engines use ([`SchemaDecoder`]). A line that
//! fits is an event; one that does not is sent as it is and must end in the
//! dead-letter table, as a malformed generated record does. The oracle
//! reads the same lines, so it judges the file, not the generator.
//!
//! Every event's time is moved to the run's clock and the file's disorder
//! kept: an event lagging the newest event time before it by `lag` ms
//! lags the newest replayed one by at most `lag` ms. [`Timing`] says when
//! each line is sent.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::expr::Val;
use crate::rate::RateProfile;
use crate::schema::EventSchema;
use crate::schema_decoder::SchemaDecoder;

/// A workload read from a file instead of generated:
/// `source = { file = "events.jsonl" }` in `[workload]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// One event per line, as JSON (gzip when the name ends in `.gz`); a
    /// relative path is taken from the suite's folder.
    pub file: PathBuf,
    /// When each line is sent.
    #[serde(default)]
    pub timing: Timing,
}

/// When a replayed line is sent, and so what its event time becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// Line *i* goes when the workload's rate profile sends event *i*; its
    /// event time is that moment less its lag in the file.
    #[default]
    Rate,
    /// The file's own pace: each line goes as long after the first as the
    /// newest event time so far in the file lies after the first line's.
    Recorded,
}

/// The largest line sent: Kafka's default largest record
/// (`message.max.bytes`, 1 MiB) less room for the record's framing.
pub const MAX_LINE_BYTES: usize = 1_000_000;

/// A file read and checked against one schema, ready to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    lines: Vec<Line>,
    timing: Timing,
    time_field: usize,
    /// Each field's `{"name":` or `,"name":`, to write an event back.
    prefixes: Vec<Vec<u8>>,
}

/// One line of the file as it is replayed.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Its number in the file, from 1.
    pub number: usize,
    /// What it holds.
    pub content: Content,
    /// How far the newest event time of the file up to this line lies
    /// after the first event's, ms: when [`Timing::Recorded`] sends it.
    recorded_due_ms: i64,
}

/// What a line holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// An event of the schema.
    Event {
        /// Its values in the schema's order, with the file's event time.
        values: Vec<Val>,
        /// What its Kafka record is keyed and partitioned by.
        key: u64,
        /// How far its time lies before the newest event time of the file
        /// up to it, ms (0 for an event in order).
        lag_ms: i64,
    },
    /// Not an event of the schema: sent as it is, to be dead-lettered.
    Rejected {
        /// The line's bytes.
        bytes: Vec<u8>,
        /// Why the decoder refuses it.
        reason: String,
    },
}

impl Replay {
    /// Reads `source` and checks each line against `schema`. The error
    /// names the file and the line: a file that cannot be read, is one
    /// JSON document rather than lines, holds no event of the schema, a
    /// line too big for Kafka, or an event id given twice.
    pub fn load(source: &FileSource, schema: &EventSchema) -> Result<Replay, String> {
        let text = read(&source.file)?;
        Replay::parse(&text, &source.file.display().to_string(), schema, source.timing)
    }

    /// [`Replay::load`] of a file's bytes, `text`; `shown` names the file
    /// in errors.
    pub fn parse(text: &[u8], shown: &str, schema: &EventSchema, timing: Timing) -> Result<Replay, String> {
        if text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(format!(
                "{shown} is one JSON array, not JSON lines: write one event per line"
            ));
        }
        let mut reader = LineReader::new(schema)?;
        for (at, raw) in text.split(|&b| b == b'\n').enumerate() {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            reader
                .take(at + 1, raw)
                .map_err(|e| format!("{shown}, line {}: {e}", at + 1))?;
        }
        let replay = Replay {
            lines: reader.lines,
            timing,
            time_field: reader.time,
            prefixes: prefixes(schema),
        };
        if replay.events() == 0 {
            let first = replay
                .lines
                .first()
                .map_or("it has no lines".to_string(), |line| {
                    format!("line {}: {}", line.number, line.reason().unwrap_or_default())
                });
            return Err(format!("{shown}: no line is an event of the schema ({first})"));
        }
        Ok(replay)
    }

    /// How many lines it sends.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether it sends nothing (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// How many of its lines are events of the schema.
    pub fn events(&self) -> usize {
        self.lines.iter().filter(|l| l.reason().is_none()).count()
    }

    /// Line `index` (from 0, in file order, blank lines left out).
    pub fn line(&self, index: u64) -> &Line {
        &self.lines[index as usize]
    }

    /// When line `index` is sent, µs after the run starts, under `rate`
    /// (which [`Timing::Recorded`] ignores).
    pub fn send_time_us(&self, index: u64, rate: &RateProfile) -> u64 {
        match self.timing {
            Timing::Rate => rate.send_time_us(index),
            Timing::Recorded => self.line(index).recorded_due_ms as u64 * 1000,
        }
    }

    /// The largest lag of any event behind the newest event before it, ms.
    pub fn largest_lag_ms(&self) -> i64 {
        self.lines
            .iter()
            .filter_map(|line| match line.content {
                Content::Event { lag_ms, .. } => Some(lag_ms),
                Content::Rejected { .. } => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// The values of event line `index` with its time moved to
    /// `event_time_ms`; none for a rejected line.
    pub fn values(&self, index: u64, event_time_ms: i64) -> Option<Vec<Val>> {
        let Content::Event { values, .. } = &self.line(index).content else {
            return None;
        };
        let mut values = values.clone();
        values[self.time_field] = Val::Int(event_time_ms);
        Some(values)
    }

    /// Writes line `index` as it is sent into `out` (cleared first): an
    /// event with its time moved to `event_time_ms` (the fields of the
    /// schema, in its order), a rejected line as it is.
    pub fn write(&self, index: u64, event_time_ms: i64, out: &mut Vec<u8>) {
        out.clear();
        match &self.line(index).content {
            Content::Rejected { bytes, .. } => out.extend_from_slice(bytes),
            Content::Event { values, .. } => {
                for (at, (prefix, value)) in self.prefixes.iter().zip(values).enumerate() {
                    out.extend_from_slice(prefix);
                    match at == self.time_field {
                        true => write_json(&Val::Int(event_time_ms), out),
                        false => write_json(value, out),
                    }
                }
                out.push(b'}');
            }
        }
    }
}

/// `{"a":`, `,"b":`, ...: what comes before each field's value.
fn prefixes(schema: &EventSchema) -> Vec<Vec<u8>> {
    schema
        .fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let name = serde_json::to_string(&field.name).expect("a string always serializes");
            format!("{}{name}:", if i == 0 { "{" } else { "," }).into_bytes()
        })
        .collect()
}

/// Appends `value` as JSON; a float as its shortest text that reads back
/// to the same number, so the engines decode what the oracle reads.
fn write_json(value: &Val, out: &mut Vec<u8>) {
    match value {
        Val::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Val::Float(x) => out.extend_from_slice(ryu::Buffer::new().format_finite(*x).as_bytes()),
        Val::Text(t) => out.extend_from_slice(
            serde_json::to_string(t)
                .expect("a string always serializes")
                .as_bytes(),
        ),
        Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

impl Line {
    /// Why the decoder refuses this line, if it does.
    pub fn reason(&self) -> Option<&str> {
        match &self.content {
            Content::Rejected { reason, .. } => Some(reason),
            Content::Event { .. } => None,
        }
    }
}

/// The file's bytes, unpacked when its name ends in `.gz`.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if path.extension().is_none_or(|e| e != "gz") {
        return Ok(bytes);
    }
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot unpack {shown} (its name ends in .gz): {e}"))?;
    Ok(text)
}

/// Reads lines in file order, keeping what a line's lag and due time
/// depend on: the first and the newest event time so far, and the ids seen.
struct LineReader {
    decoder: SchemaDecoder,
    time: usize,
    id: usize,
    kafka_key: usize,
    first_ms: Option<i64>,
    newest_ms: i64,
    ids: HashMap<i64, usize>,
    lines: Vec<Line>,
}

impl LineReader {
    fn new(schema: &EventSchema) -> Result<LineReader, String> {
        let at = |name: &str| schema.fields.iter().position(|f| f.name == name);
        let id = schema.id.as_deref().ok_or(
            "the schema needs `id`, naming a field that holds a different whole number on every line \
             (the line number will do): late events and dead letters are told apart by it",
        )?;
        Ok(LineReader {
            decoder: SchemaDecoder::new(schema),
            time: at(&schema.time).ok_or("the schema names no time field")?,
            id: at(id).ok_or(format!("the schema has no id field `{id}`"))?,
            kafka_key: at(&schema.kafka_key).ok_or("the schema names no kafka_key field")?,
            first_ms: None,
            newest_ms: i64::MIN,
            ids: HashMap::new(),
            lines: Vec::new(),
        })
    }

    /// Takes line `number`; an error only for what no run can send.
    fn take(&mut self, number: usize, raw: &[u8]) -> Result<(), String> {
        if raw.len() > MAX_LINE_BYTES {
            return Err(format!(
                "{} bytes: more than a Kafka record holds ({MAX_LINE_BYTES} taken here)",
                raw.len()
            ));
        }
        let content = match self.decoder.decode(raw) {
            Ok(values) => self.event(number, values)?,
            Err(e) => Content::Rejected {
                bytes: raw.to_vec(),
                reason: e.to_string(),
            },
        };
        let first = self.first_ms.unwrap_or(self.newest_ms);
        self.lines.push(Line {
            number,
            content,
            recorded_due_ms: self.newest_ms.saturating_sub(first).max(0),
        });
        Ok(())
    }

    fn event(&mut self, number: usize, values: Vec<Val>) -> Result<Content, String> {
        let (Val::Int(id), Val::Int(time)) = (&values[self.id], &values[self.time]) else {
            return Err("the schema's id field must be an integer".into());
        };
        if let Some(earlier) = self.ids.insert(*id, number) {
            return Err(format!(
                "id {id} is line {earlier}'s too: each event needs its own id"
            ));
        }
        self.first_ms.get_or_insert(*time);
        self.newest_ms = self.newest_ms.max(*time);
        Ok(Content::Event {
            key: key_of(&values[self.kafka_key]),
            lag_ms: self.newest_ms - time,
            values,
        })
    }
}

/// The number a record is keyed and partitioned by: a whole number as it
/// is, anything else by a hash of its text (FNV-1a, the same in every run).
fn key_of(value: &Val) -> u64 {
    if let Val::Int(n) = value
        && *n >= 0
    {
        return *n as u64;
    }
    let text = match value {
        Val::Text(t) => t.clone(),
        other => format!("{other:?}"),
    };
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) >> 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{EventClass, Generator, MalformedKind, WorkloadSpec};
    use crate::schema::payment_schema;

    const FIRST: i64 = 1_764_979_200_000;

    /// A payment line of [`payment_schema`] with id `id` at `at`.
    fn payment(id: i64, at: i64) -> String {
        format!(
            r#"{{"id":{id},"at":{at},"card":{},"merchant":2,"amount_cents":450,"fee_cents":3,"rate":0.1,"country":"DE","online":true,"note":"n\"7\\"}}"#,
            id % 5
        )
    }

    fn file(text: &str, name: &str) -> (tempfile::TempDir, FileSource) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let source = FileSource {
            file: path,
            timing: Timing::Rate,
        };
        (dir, source)
    }

    fn sample() -> String {
        [
            payment(0, FIRST),
            payment(1, FIRST + 10),
            String::new(),
            "not a payment".to_string(),
            payment(2, FIRST - 2_000),
            payment(3, FIRST + 30).replace("\"DE\"", "\"XX\""),
            payment(4, FIRST + 40),
        ]
        .join("\n")
    }

    #[test]
    fn lines_that_fit_are_events_and_the_rest_are_sent_as_read() {
        let (_dir, source) = file(&sample(), "p.jsonl");
        let replay = Replay::load(&source, &payment_schema()).expect("loads");
        assert_eq!(
            (replay.len(), replay.events()),
            (6, 4),
            "the blank line is no record"
        );
        let numbers: Vec<usize> = (0..6).map(|i| replay.line(i).number).collect();
        assert_eq!(numbers, [1, 2, 4, 5, 6, 7]);
        assert!(
            replay
                .line(2)
                .reason()
                .is_some_and(|r| r.contains("expected ident"))
        );
        assert!(
            replay.line(4).reason().is_some_and(|r| r.contains("XX")),
            "{:?}",
            replay.line(4)
        );
        let lag = |i| match replay.line(i).content {
            Content::Event { lag_ms, .. } => lag_ms,
            Content::Rejected { .. } => -1,
        };
        assert_eq!((lag(0), lag(1), lag(3), lag(5)), (0, 0, 2_010, 0));
        assert_eq!(replay.largest_lag_ms(), 2_010);
    }

    #[test]
    fn a_file_no_run_can_send_is_refused_naming_the_line() {
        let schema = payment_schema();
        let refused = |text: &str| {
            let (_dir, source) = file(text, "p.jsonl");
            Replay::load(&source, &schema).expect_err("refused")
        };
        let twice = format!("{}\n{}\n", payment(3, FIRST), payment(3, FIRST + 1));
        assert!(
            refused(&twice).contains("line 2: id 3 is line 1's too"),
            "{}",
            refused(&twice)
        );
        let array = format!("[{}]", payment(0, FIRST));
        assert!(refused(&array).contains("one JSON array, not JSON lines"));
        let none = "{\"id\": 1}\nnot json\n";
        assert!(
            refused(none).contains("no line is an event of the schema (line 1:"),
            "{}",
            refused(none)
        );
        assert!(refused("\n\n").contains("it has no lines"));
        let huge = format!("{}\n{}\n", payment(0, FIRST), "x".repeat(MAX_LINE_BYTES + 1));
        assert!(
            refused(&huge).contains("line 2: 1000001 bytes"),
            "{}",
            refused(&huge)
        );
        let missing = FileSource {
            file: "/nonexistent/p.jsonl".into(),
            timing: Timing::Rate,
        };
        let error = Replay::load(&missing, &schema).expect_err("refused");
        assert!(error.starts_with("cannot read /nonexistent/p.jsonl"), "{error}");
    }

    #[test]
    fn a_gzip_file_is_read_unpacked() {
        use std::io::Write;
        let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        packed.write_all(sample().as_bytes()).expect("pack");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.jsonl.gz");
        std::fs::write(&path, packed.finish().expect("packed")).expect("write");
        let source = FileSource {
            file: path.clone(),
            timing: Timing::Rate,
        };
        let (_plain_dir, plain) = file(&sample(), "p.jsonl");
        let schema = payment_schema();
        assert_eq!(Replay::load(&source, &schema), Replay::load(&plain, &schema));
        std::fs::write(&path, b"not gzip").expect("write");
        let error = Replay::load(&source, &schema).expect_err("refused");
        assert!(error.contains("cannot unpack"), "{error}");
    }

    #[test]
    fn the_generator_sends_each_line_on_the_schedule_with_its_lag() {
        let (_dir, source) = file(&sample(), "p.jsonl");
        let spec = WorkloadSpec {
            source: Some(source),
            ..WorkloadSpec::default()
        };
        let start = 1_800_000_000_000;
        let generator = Generator::with_schema(spec.clone(), &payment_schema(), start).expect("replays");
        assert_eq!(generator.len(), 6);
        let decoder = SchemaDecoder::new(&payment_schema());
        let mut bytes = Vec::new();
        for index in 0..generator.len() {
            let sent = generator.write_record(index, &mut bytes);
            assert_eq!(sent.send_time_us, spec.rate.send_time_us(index));
            let scheduled = start + (sent.send_time_us / 1000) as i64;
            match generator.replay().expect("a replay").line(index).reason() {
                Some(_) => {
                    assert_eq!(sent.class, EventClass::Malformed(MalformedKind::Rejected));
                    assert!(decoder.decode(&bytes).is_err(), "sent as read");
                }
                None => {
                    assert_eq!(sent.event.event_time_ms(), scheduled - sent.delay_ms);
                    let values = decoder.decode(&bytes).expect("an event decodes");
                    assert_eq!(values, generator.values(&sent), "line {index}");
                    assert_eq!(values[1], Val::Int(sent.event.event_time_ms()));
                }
            }
        }
        assert_eq!(generator.generate(3).class, EventClass::OutOfOrder);
        assert_eq!(generator.generate(3).delay_ms, 2_010);
    }

    #[test]
    fn recorded_timing_keeps_the_files_pace() {
        let (_dir, mut source) = file(&sample(), "p.jsonl");
        source.timing = Timing::Recorded;
        let spec = WorkloadSpec {
            source: Some(source),
            ..WorkloadSpec::default()
        };
        let generator = Generator::with_schema(spec, &payment_schema(), 0).expect("replays");
        let sent: Vec<(u64, i64)> = (0..6)
            .map(|i| {
                let g = generator.generate(i);
                (g.send_time_us, g.event.event_time_ms())
            })
            .collect();
        assert_eq!(sent[0], (0, 0));
        assert_eq!(sent[1], (10_000, 10));
        assert_eq!(
            sent[3],
            (10_000, -2_000),
            "the late line is sent at the newest time, its own kept"
        );
        assert_eq!(sent[5], (40_000, 40));
        let due = |t_s| generator.due_within(t_s);
        assert_eq!(
            (due(0.0), due(0.009), due(0.010), due(0.040), due(9.0)),
            (1, 1, 5, 6, 6)
        );
        assert_eq!(generator.seconds_behind(1.0, 5), 0.96, "line 5 was due at 40 ms");
    }

    #[test]
    fn settings_that_would_make_events_are_refused_with_a_file() {
        let (_dir, source) = file(&sample(), "p.jsonl");
        let spec = WorkloadSpec {
            source: Some(source),
            malformed_fraction: 0.1,
            ..WorkloadSpec::default()
        };
        let error = spec.validate().expect_err("refused").to_string();
        assert!(
            error.contains("`malformed_fraction`") && error.contains("gives its own"),
            "{error}"
        );
    }
}
