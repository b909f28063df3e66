//! The seeded event generator: event *i* is a pure function of (seed, i,
//! workload settings, start time), so every run and every process that makes
//! event *i* makes the same bytes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::confluent;
use crate::event::{AD_TYPES, AdEvent, AdEventType, Event, EventKind, MAX_EVENT_BYTES, Measurement};
use crate::event_writer::{EventWriter, ipv4};
use crate::expr::Val;
use crate::format::Format;
use crate::job::JobSpec;
use crate::rate::RateProfile;
use crate::replay::{Content, FileSource, Replay};
use crate::rng::{EventRng, pick, zipf_cdf};
use crate::schema::EventSchema;

/// Everything that shapes a workload's events (the *what*, as in the
/// OpenMessaging Benchmark: rate, size, keys, partitions, disorder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadSpec {
    /// Seed of every random choice.
    pub seed: u64,
    /// The offered rate over time.
    pub rate: RateProfile,
    /// How long to send; the event count follows from the rate. Ignored
    /// when `events` is set.
    pub duration_s: f64,
    /// Exactly how many events to send, if set.
    pub events: Option<u64>,
    /// How many distinct keys (ads, for ad events).
    pub keys: u64,
    /// How often each key occurs.
    pub key_distribution: KeyDistribution,
    /// How many distinct users ad events come from, uniformly: the key of
    /// the per-user `fraud` rule (fewer users, more bursts).
    pub users: u64,
    /// Partitions of the topic; a key always lands in the same one.
    pub partitions: u32,
    /// Bytes of padding added to every event.
    pub padding_bytes: usize,
    /// Events whose time is in the past: within the watermark bound, or with
    /// a long tail beyond it for a watermark sweep.
    pub out_of_order: OutOfOrder,
    /// Events whose time is far in the past, beyond any window's lateness.
    pub late: Late,
    /// Fraction of records that are not valid events at all.
    pub malformed_fraction: f64,
    /// How each event is written as a record: `json`, `avro` or `protobuf`.
    pub format: Format,
    /// A file of events to replay instead of generating them: its lines,
    /// not the settings above, give the events, their disorder and their
    /// bad records (only `rate` and `partitions` apply).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<FileSource>,
}

impl Default for WorkloadSpec {
    fn default() -> WorkloadSpec {
        WorkloadSpec {
            seed: 42,
            rate: RateProfile::constant(10_000.0),
            duration_s: 30.0,
            events: None,
            keys: 1000,
            key_distribution: KeyDistribution::Uniform,
            users: 100_000,
            partitions: 4,
            padding_bytes: 0,
            out_of_order: OutOfOrder::default(),
            late: Late::default(),
            malformed_fraction: 0.0,
            format: Format::Json,
            source: None,
        }
    }
}

/// How keys are drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyDistribution {
    /// Every key equally likely.
    #[default]
    Uniform,
    /// Key k (from 0) with weight 1 / (k + 1)^exponent: a few hot keys.
    Zipf {
        /// The skew; 0 is uniform, around 1 is typical of real traffic.
        exponent: f64,
    },
}

/// Out-of-order events: their time lags their send time by 1 ms to
/// `max_delay_ms`, drawn as `shape` says. Beyond a job's watermark delay an
/// event may be late, which only a tumbling-window or per-event job's
/// oracle can judge exactly (see the suite's check).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutOfOrder {
    /// Fraction of events that are out of order.
    pub fraction: f64,
    /// The largest lag of an out-of-order event's time.
    pub max_delay_ms: i64,
    /// How the lags are spread up to `max_delay_ms`.
    pub shape: DelayShape,
    /// The mean lag of the `exponential` shape (before the cap at
    /// `max_delay_ms`).
    pub mean_delay_ms: i64,
}

impl Default for OutOfOrder {
    fn default() -> OutOfOrder {
        OutOfOrder {
            fraction: 0.0,
            max_delay_ms: 4_000,
            shape: DelayShape::Uniform,
            mean_delay_ms: 1_000,
        }
    }
}

/// How out-of-order lags are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DelayShape {
    /// Every lag from 1 ms to the maximum equally likely.
    #[default]
    Uniform,
    /// Exponential with `mean_delay_ms`, capped at the maximum: most events
    /// a little late, a long tail of very late ones, as mobile clients
    /// reconnecting after a gap send them.
    Exponential,
}

impl OutOfOrder {
    /// One lag, in ms from 1 to `max_delay_ms`, from `rng`'s next draws.
    fn draw_delay(&self, rng: &mut EventRng) -> i64 {
        match self.shape {
            DelayShape::Uniform => rng.between(1, self.max_delay_ms),
            DelayShape::Exponential => {
                // Inverse transform: -mean ln(1 - u) is exponential for u in [0, 1).
                let lag = -(self.mean_delay_ms as f64) * (1.0 - rng.unit()).ln();
                (lag.ceil() as i64).clamp(1, self.max_delay_ms)
            }
        }
    }
}

/// Late events: their time lags their send time by `delay_ms` plus up to a
/// second, which must exceed watermark delay + allowed lateness + window size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Late {
    /// Fraction of events that are late.
    pub fraction: f64,
    /// How far behind their send time late events are.
    pub delay_ms: i64,
}

impl Default for Late {
    fn default() -> Late {
        Late {
            fraction: 0.0,
            delay_ms: 300_000,
        }
    }
}

/// What kind of event the generator made at one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    /// Time equals its scheduled send time.
    OnTime,
    /// Time slightly before its send time, within the watermark bound.
    OutOfOrder,
    /// Time far before its send time, beyond every window's lateness.
    Late,
    /// Not a valid event.
    Malformed(MalformedKind),
}

/// The ways a record can fail to be an event, named as JSON fails; an
/// Avro record is damaged in the like way (see `write_damaged_avro`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MalformedKind {
    /// Cut off halfway: not JSON.
    InvalidJson,
    /// JSON without `event_time_ms`.
    MissingField,
    /// `event_time_ms` as a string.
    WrongType,
    /// A valid event larger than [`MAX_EVENT_BYTES`].
    Oversized,
    /// Starts with bytes that are not UTF-8.
    NotUtf8,
    /// A line of a replayed file that is not an event of its schema.
    Rejected,
}

/// Why the damage functions never see [`MalformedKind::Rejected`]: the
/// generator draws only the other kinds.
const REJECTED_ARE_SENT_AS_READ: &str =
    "only a replayed file's lines are rejected, and they are sent as read";

const MALFORMED_KINDS: [MalformedKind; 5] = [
    MalformedKind::InvalidJson,
    MalformedKind::MissingField,
    MalformedKind::WrongType,
    MalformedKind::Oversized,
    MalformedKind::NotUtf8,
];

/// Why a workload cannot be generated.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    /// A setting is out of range.
    #[error("workload setting `{setting}`: {reason}")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        setting,
        reason: reason.into(),
    }
}

impl WorkloadSpec {
    /// Checks every setting, so that a bad suite fails before anything runs.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.rate.validate().map_err(|r| invalid("rate", r))?;
        if self.events.is_none() && !(self.duration_s.is_finite() && self.duration_s > 0.0) {
            return Err(invalid(
                "duration_s",
                format!("must be positive, not {}", self.duration_s),
            ));
        }
        if self.keys == 0 {
            return Err(invalid("keys", "must be at least 1"));
        }
        if self.users == 0 {
            return Err(invalid("users", "must be at least 1"));
        }
        if self.partitions == 0 {
            return Err(invalid("partitions", "must be at least 1"));
        }
        if let KeyDistribution::Zipf { exponent } = self.key_distribution
            && !(exponent.is_finite() && exponent >= 0.0)
        {
            return Err(invalid(
                "key_distribution.exponent",
                format!("must be 0 or more, not {exponent}"),
            ));
        }
        if self.padding_bytes > MAX_EVENT_BYTES / 2 {
            return Err(invalid(
                "padding_bytes",
                format!("must be at most {}", MAX_EVENT_BYTES / 2),
            ));
        }
        let fraction_ok = |f: f64| (0.0..=1.0).contains(&f);
        for (setting, f) in [
            ("out_of_order.fraction", self.out_of_order.fraction),
            ("late.fraction", self.late.fraction),
            ("malformed_fraction", self.malformed_fraction),
        ] {
            if !fraction_ok(f) {
                return Err(invalid(setting, format!("must be between 0 and 1, not {f}")));
            }
        }
        if self.out_of_order.fraction + self.late.fraction + self.malformed_fraction > 1.0 {
            return Err(invalid(
                "late.fraction",
                "out-of-order, late and malformed fractions add up to more than 1",
            ));
        }
        if self.out_of_order.max_delay_ms < 1 {
            return Err(invalid("out_of_order.max_delay_ms", "must be at least 1"));
        }
        if self.out_of_order.mean_delay_ms < 1 {
            return Err(invalid("out_of_order.mean_delay_ms", "must be at least 1"));
        }
        if self.late.delay_ms < 1 {
            return Err(invalid("late.delay_ms", "must be at least 1"));
        }
        self.validate_replay()
    }

    /// A replayed file gives the events, their disorder and their bad
    /// records itself: settings that would make them are refused.
    fn validate_replay(&self) -> Result<(), SpecError> {
        if self.source.is_none() {
            return Ok(());
        }
        let made = [
            ("events", self.events.is_some()),
            ("padding_bytes", self.padding_bytes > 0),
            ("out_of_order", self.out_of_order.fraction > 0.0),
            ("late", self.late.fraction > 0.0),
            ("malformed_fraction", self.malformed_fraction > 0.0),
        ];
        if self.format != Format::Json {
            return Err(invalid(
                "format",
                "a replayed file's lines are sent as read, as JSON; leave `format` out",
            ));
        }
        match made.iter().find(|(_, set)| *set) {
            Some((setting, _)) => Err(invalid(
                setting,
                "a replayed file (`source`) gives its own events, disorder and bad records; \
                 leave this out (`rate` and `partitions` still apply)",
            )),
            None => Ok(()),
        }
    }

    /// How many events the workload sends.
    pub fn event_count(&self) -> u64 {
        self.events
            .unwrap_or_else(|| self.rate.events_within(self.duration_s))
    }
}

/// One generated record with everything the oracle and the producer need.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated<'g> {
    /// The event's index (its `event_id`).
    pub index: u64,
    /// When it is due to be sent, in microseconds after the run starts.
    pub send_time_us: u64,
    /// Its Kafka partition.
    pub partition: u32,
    /// Its Kafka key: the measurement's key, or the user of an ad event
    /// (the topic is keyed by user, so a user's events stay in order in one
    /// partition, as per-user rules need).
    pub key: u64,
    /// On time, out of order, late or malformed.
    pub class: EventClass,
    /// How far its event time lies before its scheduled send, ms (0 on time).
    pub delay_ms: i64,
    /// The event (for a malformed record: the event it was damaged from).
    pub event: Event<'g>,
}

/// Makes a workload's events, one index at a time or as a splittable iterator.
#[derive(Debug, Clone)]
pub struct Generator {
    spec: WorkloadSpec,
    kind: EventKind,
    start_time_ms: i64,
    count: u64,
    key_cdf: Option<Vec<f64>>,
    padding: String,
    oversized_padding: String,
    ips: Vec<String>,
    /// Writes the records of well-formed events: the kind as a schema.
    writer: EventWriter,
    /// For a suite's own schema, its time field: malformed records are
    /// damaged copies of the schema's record, not of a built-in event.
    declared_time: Option<String>,
    /// For a workload replayed from a file: its lines, in place of draws.
    replay: Option<Arc<Replay>>,
}

/// Separate random streams, so that one choice never shifts another.
mod stream {
    pub const CLASS: u64 = 1;
    pub const KEY: u64 = 2;
    pub const FIELDS: u64 = 3;
    pub const DELAY: u64 = 4;
}

impl Generator {
    /// A generator of `kind` events for `spec`, whose schedule starts at
    /// `start_time_ms` (milliseconds since the Unix epoch).
    pub fn new(spec: WorkloadSpec, kind: EventKind, start_time_ms: i64) -> Result<Generator, SpecError> {
        spec.validate()?;
        let key_cdf = match spec.key_distribution {
            KeyDistribution::Uniform => None,
            KeyDistribution::Zipf { exponent } => Some(zipf_cdf(spec.keys, exponent)),
        };
        let ips = (0..256u64).map(|i| ipv4(spec.seed, i)).collect();
        let writer = EventWriter::new(&EventSchema::builtin(kind, &spec), &spec)
            .map_err(|e| invalid("kind", format!("the built-in {kind:?} schema: {e}")))?;
        Ok(Generator {
            writer,
            count: spec.event_count(),
            padding: "x".repeat(spec.padding_bytes),
            oversized_padding: "x".repeat(MAX_EVENT_BYTES + 1),
            spec,
            kind,
            start_time_ms,
            key_cdf,
            ips,
            declared_time: None,
            replay: None,
        })
    }

    /// A generator of events of a suite's own `schema`: each event's time
    /// and key drawn as the built-in kinds' are, every field as the schema
    /// says. Its Kafka key must be drawn as the workload's `key` (records
    /// are partitioned by key) and it must name its `id` field.
    pub fn with_schema(
        spec: WorkloadSpec,
        schema: &EventSchema,
        start_time_ms: i64,
    ) -> Result<Generator, SpecError> {
        if let Some(source) = &spec.source {
            let source = source.clone();
            return Generator::replaying(spec, &source, schema, start_time_ms);
        }
        let mut generator = Generator::new(spec, EventKind::Measurement, start_time_ms)?;
        generator.writer =
            EventWriter::new(schema, &generator.spec).map_err(|e| invalid("schema", e.to_string()))?;
        let key_draw = schema.field(&schema.kafka_key).and_then(|f| f.draw.as_ref());
        if key_draw != Some(&crate::schema::Draw::Key) {
            return Err(invalid(
                "schema",
                format!(
                    "kafka_key = `{}` must name a field drawn as {{ kind = \"key\" }}: records are partitioned by the workload's key",
                    schema.kafka_key
                ),
            ));
        }
        if schema.id.is_none() {
            return Err(invalid("schema", "needs `id`, naming its event-id field"));
        }
        generator.declared_time = Some(schema.time.clone());
        Ok(generator)
    }

    /// A generator that sends the lines of `source`, events of `schema`,
    /// on `spec`'s rate (or the file's own pace) from `start_time_ms`.
    fn replaying(
        spec: WorkloadSpec,
        source: &FileSource,
        schema: &EventSchema,
        start_time_ms: i64,
    ) -> Result<Generator, SpecError> {
        schema
            .validate_replayed()
            .map_err(|e| invalid("source", format!("the schema of the replayed events: {e}")))?;
        let replay = Replay::load(source, schema).map_err(|e| invalid("source", e))?;
        let mut generator = Generator::new(spec, EventKind::Measurement, start_time_ms)?;
        generator.count = replay.len() as u64;
        generator.declared_time = Some(schema.time.clone());
        generator.replay = Some(Arc::new(replay));
        Ok(generator)
    }

    /// When record `index` is due, in microseconds after the run starts.
    pub fn send_time_us(&self, index: u64) -> u64 {
        match &self.replay {
            Some(replay) => replay.send_time_us(index, &self.spec.rate),
            None => self.spec.rate.send_time_us(index),
        }
    }

    /// Seconds between `t_s` into the run and the moment the record at
    /// `position` was due: how far a reader at `position` is behind (0
    /// once it has read every record).
    pub fn seconds_behind(&self, t_s: f64, position: i64) -> f64 {
        let position = position.max(0) as u64;
        if position >= self.count {
            return 0.0;
        }
        (t_s - self.send_time_us(position) as f64 / 1e6).max(0.0)
    }

    /// How many records are due within the first `t_s` seconds.
    pub fn due_within(&self, t_s: f64) -> u64 {
        if self.replay.is_none() {
            return self.spec.rate.events_within(t_s.max(0.0)).min(self.count);
        }
        let t_us = (t_s.max(0.0) * 1e6) as u64;
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.send_time_us(middle) <= t_us {
                true => low = middle + 1,
                false => high = middle,
            }
        }
        low
    }

    /// The replayed file, for a workload that replays one.
    pub fn replay(&self) -> Option<&Replay> {
        self.replay.as_deref()
    }

    /// A generator of the events `job` reads: its declared schema's, or its
    /// built-in kind's.
    pub fn for_job(spec: WorkloadSpec, job: &JobSpec, start_time_ms: i64) -> Result<Generator, SpecError> {
        match &job.declared {
            Some(declared) => Generator::with_schema(spec, &declared.schema, start_time_ms),
            None if spec.source.is_some() => Err(invalid(
                "source",
                format!(
                    "job `{}` reads the built-in {} events; a replayed file is read by jobs over a schema the suite declares",
                    job.name,
                    job.input_name()
                ),
            )),
            None => Generator::new(spec, job.input, start_time_ms),
        }
    }

    /// The field values of `generated` as its record holds them, in its
    /// schema's order (for a malformed record: those it was damaged from).
    pub fn values(&self, generated: &Generated<'_>) -> Vec<Val> {
        let event = &generated.event;
        if let Some(replay) = &self.replay {
            return replay
                .values(generated.index, event.event_time_ms())
                .unwrap_or_default();
        }
        self.writer
            .values(generated.index, event.drawn_key(), event.event_time_ms())
    }

    /// The settings this generator follows.
    pub fn spec(&self) -> &WorkloadSpec {
        &self.spec
    }

    /// The kind of event it makes.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// When the schedule starts, in milliseconds since the Unix epoch.
    pub fn start_time_ms(&self) -> i64 {
        self.start_time_ms
    }

    /// How many events the workload has.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether the workload has no events.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Event `index`: the same in every run and process.
    pub fn generate(&self, index: u64) -> Generated<'_> {
        if let Some(replay) = &self.replay {
            return self.replayed(replay, index);
        }
        let seed = self.spec.seed;
        let send_time_us = self.send_time_us(index);
        let scheduled_ms = self.start_time_ms + (send_time_us / 1000) as i64;

        let mut class_rng = EventRng::new(seed, index, stream::CLASS);
        let draw = class_rng.unit();
        let malformed = self.spec.malformed_fraction;
        let late = malformed + self.spec.late.fraction;
        let out_of_order = late + self.spec.out_of_order.fraction;
        let class = if draw < malformed {
            EventClass::Malformed(MALFORMED_KINDS[class_rng.below(MALFORMED_KINDS.len() as u64) as usize])
        } else if draw < late {
            EventClass::Late
        } else if draw < out_of_order {
            EventClass::OutOfOrder
        } else {
            EventClass::OnTime
        };
        let mut delay_rng = EventRng::new(seed, index, stream::DELAY);
        let event_time_ms = match class {
            EventClass::OutOfOrder => scheduled_ms - self.spec.out_of_order.draw_delay(&mut delay_rng),
            EventClass::Late => scheduled_ms - self.spec.late.delay_ms - delay_rng.between(0, 1000),
            EventClass::OnTime | EventClass::Malformed(_) => scheduled_ms,
        };

        let key = self.draw_key(&mut EventRng::new(seed, index, stream::KEY));
        let mut fields = EventRng::new(seed, index, stream::FIELDS);
        let pad = if class == EventClass::Malformed(MalformedKind::Oversized) {
            self.oversized_padding.as_str()
        } else {
            self.padding.as_str()
        };
        let event = match self.kind {
            EventKind::Ad => Event::Ad(AdEvent {
                event_id: index,
                event_time_ms,
                user_id: fields.below(self.spec.users),
                page_id: fields.below(10_000),
                ad_id: key,
                ad_type: AD_TYPES[fields.below(AD_TYPES.len() as u64) as usize],
                event_type: match fields.below(3) {
                    0 => AdEventType::View,
                    1 => AdEventType::Click,
                    _ => AdEventType::Purchase,
                },
                ip: &self.ips[fields.below(256) as usize],
                pad,
            }),
            EventKind::Measurement => Event::Measurement(Measurement {
                event_id: index,
                event_time_ms,
                key,
                value: fields.between(0, 1000),
                pad,
            }),
        };
        let key = event.partition_key();
        Generated {
            index,
            send_time_us,
            partition: partition_of(key, self.spec.partitions),
            key,
            class,
            delay_ms: scheduled_ms - event_time_ms,
            event,
        }
    }

    /// Line `index` of `replay` as sent: at its time on the schedule, its
    /// event time that moment less its lag in the file.
    fn replayed(&self, replay: &Replay, index: u64) -> Generated<'_> {
        let send_time_us = self.send_time_us(index);
        let scheduled_ms = self.start_time_ms + (send_time_us / 1000) as i64;
        let (key, lag_ms, class) = match replay.line(index).content {
            Content::Event { key, lag_ms, .. } => {
                let class = if lag_ms == 0 {
                    EventClass::OnTime
                } else {
                    EventClass::OutOfOrder
                };
                (key, lag_ms, class)
            }
            Content::Rejected { .. } => (index, 0, EventClass::Malformed(MalformedKind::Rejected)),
        };
        Generated {
            index,
            send_time_us,
            partition: partition_of(key, self.spec.partitions),
            key,
            class,
            delay_ms: lag_ms,
            event: Event::Measurement(Measurement {
                event_id: index,
                event_time_ms: scheduled_ms - lag_ms,
                key,
                value: 0,
                pad: "",
            }),
        }
    }

    /// Writes record `index`'s Kafka value into `out` (cleared first) and
    /// returns the generated event. Malformed records are damaged here.
    pub fn write_record(&self, index: u64, out: &mut Vec<u8>) -> Generated<'_> {
        out.clear();
        let generated = self.generate(index);
        if let Some(replay) = &self.replay {
            replay.write(index, generated.event.event_time_ms(), out);
            return generated;
        }
        match generated.class {
            EventClass::OnTime | EventClass::OutOfOrder | EventClass::Late => {
                let event = &generated.event;
                self.writer
                    .write(index, event.drawn_key(), event.event_time_ms(), out, None);
            }
            EventClass::Malformed(kind) => match (self.spec.format, &self.declared_time) {
                (Format::Json, Some(time)) => self.write_damaged(&generated, kind, time, out),
                (Format::Json, None) => write_malformed(&generated.event, kind, out),
                (Format::Avro | Format::Protobuf, _) => self.write_damaged_framed(&generated, kind, out),
            },
        }
        generated
    }

    /// Writes a damaged copy of a declared schema's record: cut short, with
    /// only its time, with its time as text, too big, or not UTF-8.
    fn write_damaged(&self, generated: &Generated<'_>, kind: MalformedKind, time: &str, out: &mut Vec<u8>) {
        let (index, event) = (generated.index, &generated.event);
        let (key, t) = (event.drawn_key(), event.event_time_ms());
        let mut record = Vec::new();
        self.writer.write(index, key, t, &mut record, None);
        let time_key = format!("\"{time}\":");
        match kind {
            MalformedKind::InvalidJson => out.extend_from_slice(&record[..record.len() / 2]),
            MalformedKind::MissingField => self.writer.write_time_only(t, out),
            MalformedKind::WrongType => {
                let text = String::from_utf8_lossy(&record);
                let typed = format!("{time_key}{t}");
                out.extend_from_slice(text.replacen(&typed, &format!("{time_key}\"{t}\""), 1).as_bytes());
            }
            MalformedKind::Oversized => {
                record.pop();
                out.extend_from_slice(&record);
                out.extend_from_slice(format!(",\"pad\":\"{}\"}}", self.oversized_padding).as_bytes());
            }
            MalformedKind::NotUtf8 => {
                out.extend_from_slice(&[0xff, 0xfe, 0xfd]);
                out.extend_from_slice(&record);
            }
            MalformedKind::Rejected => unreachable!("{REJECTED_ARE_SENT_AS_READ}"),
        }
    }

    /// Writes a damaged copy of an event's record in the Confluent wire
    /// format (Avro or Protobuf), as each kind of damage translates to it:
    /// cut short (its last byte gone, with no padding to lose), only the
    /// header and the time, written with schema id 0 (which no registry
    /// gives), too big, or not starting with the wire format's magic byte.
    fn write_damaged_framed(&self, generated: &Generated<'_>, kind: MalformedKind, out: &mut Vec<u8>) {
        let (index, event) = (generated.index, &generated.event);
        let (key, t) = (event.drawn_key(), event.event_time_ms());
        match kind {
            MalformedKind::InvalidJson => {
                self.writer.write_with_padding(index, key, t, 0, out);
                out.pop();
            }
            MalformedKind::MissingField => self.writer.write_time_only(t, out),
            MalformedKind::WrongType => {
                self.writer.write(index, key, t, out, None);
                // The schema id's four bytes follow the magic byte.
                out[1..confluent::HEADER_BYTES].copy_from_slice(&0u32.to_be_bytes());
            }
            MalformedKind::Oversized => {
                self.writer
                    .write_with_padding(index, key, t, MAX_EVENT_BYTES + 1, out);
            }
            MalformedKind::NotUtf8 => {
                let mut record = Vec::new();
                self.writer.write(index, key, t, &mut record, None);
                out.extend_from_slice(&[0xff, 0xfe, 0xfd]);
                out.extend_from_slice(&record);
            }
            MalformedKind::Rejected => unreachable!("{REJECTED_ARE_SENT_AS_READ}"),
        }
    }

    /// The indexes `offset`, `offset + step`, ...: one producer task's share
    /// when `step` tasks split the workload.
    pub fn indexes(&self, offset: u64, step: u64) -> impl Iterator<Item = u64> + use<> {
        (offset..self.count).step_by(step.max(1) as usize)
    }

    fn draw_key(&self, rng: &mut EventRng) -> u64 {
        match &self.key_cdf {
            None => rng.below(self.spec.keys),
            Some(cdf) => pick(cdf, rng.unit()) as u64,
        }
    }
}

/// The Kafka record key of a key: its decimal digits.
pub fn key_bytes(key: u64) -> Vec<u8> {
    key.to_string().into_bytes()
}

/// The partition a key always lands in (FNV-1a of its decimal digits), the
/// same in every client library.
pub fn partition_of(key: u64, partitions: u32) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let mut digits = [0u8; 20];
    let mut n = key;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in digits[..len].iter().rev() {
        hash ^= u32::from(d);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % partitions
}

fn write_malformed(event: &Event<'_>, kind: MalformedKind, out: &mut Vec<u8>) {
    use std::io::Write;
    let id = event.event_id();
    let time = event.event_time_ms();
    let key = event.partition_key();
    // Writing into a Vec cannot fail.
    let _ = match kind {
        MalformedKind::InvalidJson => {
            event.write_json(out);
            out.truncate(out.len() / 2);
            Ok(())
        }
        MalformedKind::MissingField => write!(
            out,
            "{{\"event_id\":{id},\"key\":{key},\"value\":1,\"ad_id\":{key}}}"
        ),
        MalformedKind::WrongType => write!(
            out,
            "{{\"event_id\":{id},\"event_time_ms\":\"{time}\",\"key\":{key},\"value\":1,\"ad_id\":{key}}}"
        ),
        MalformedKind::Oversized => {
            event.write_json(out);
            Ok(())
        }
        MalformedKind::NotUtf8 => {
            out.extend_from_slice(&[0xff, 0xfe, 0xfd]);
            event.write_json(out);
            Ok(())
        }
        MalformedKind::Rejected => unreachable!("{REJECTED_ARE_SENT_AS_READ}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::decode;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            events: Some(20_000),
            out_of_order: OutOfOrder {
                fraction: 0.1,
                max_delay_ms: 3000,
                ..OutOfOrder::default()
            },
            late: Late {
                fraction: 0.01,
                delay_ms: 100_000,
            },
            malformed_fraction: 0.01,
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn seconds_behind_follows_the_schedule() {
        let spec = WorkloadSpec {
            rate: RateProfile::constant(1000.0),
            events: Some(20_000),
            ..WorkloadSpec::default()
        };
        let g = Generator::new(spec.clone(), EventKind::Measurement, 0).expect("valid");
        // At 10 s, having read 4000 records: record 4000 was due at 4 s.
        assert!((g.seconds_behind(10.0, 4_000) - 6.0).abs() < 1e-6);
        // Caught up, or ahead of a schedule that has not sent more yet.
        assert_eq!(g.seconds_behind(10.0, 10_500), 0.0);
        // Read everything.
        assert_eq!(g.seconds_behind(30.0, 20_000), 0.0);
        assert_eq!(g.due_within(4.0), spec.rate.events_within(4.0));
        assert_eq!(g.due_within(60.0), 20_000, "never more than the workload has");
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = Generator::new(spec(), EventKind::Ad, 1_000).expect("valid");
        let b = Generator::new(spec(), EventKind::Ad, 1_000).expect("valid");
        let c = Generator::new(WorkloadSpec { seed: 43, ..spec() }, EventKind::Ad, 1_000).expect("valid");
        let (mut x, mut y, mut z) = (Vec::new(), Vec::new(), Vec::new());
        let mut differ = 0;
        for i in 0..2000 {
            a.write_record(i, &mut x);
            b.write_record(i, &mut y);
            c.write_record(i, &mut z);
            assert_eq!(x, y, "event {i}");
            differ += usize::from(x != z);
        }
        assert!(
            differ > 1900,
            "another seed changes nearly every event ({differ})"
        );
    }

    #[test]
    fn exponential_lags_have_their_mean_and_a_capped_tail() {
        let out_of_order = OutOfOrder {
            fraction: 1.0,
            max_delay_ms: 8_000,
            shape: DelayShape::Exponential,
            mean_delay_ms: 500,
        };
        let spec = WorkloadSpec {
            events: Some(50_000),
            out_of_order,
            ..WorkloadSpec::default()
        };
        let g = Generator::new(spec, EventKind::Measurement, 0).expect("valid");
        let lags: Vec<i64> = (0..g.len()).map(|i| g.generate(i).delay_ms).collect();
        assert!(lags.iter().all(|lag| (1..=8_000).contains(lag)));
        let mean = lags.iter().sum::<i64>() as f64 / lags.len() as f64;
        assert!((mean - 500.0).abs() < 15.0, "mean lag {mean}");
        // P(lag > 4 mean) = e^-4, about 1.8 %: the long tail a watermark cuts.
        let beyond = lags.iter().filter(|&&lag| lag > 2_000).count() as f64 / lags.len() as f64;
        assert!(
            (beyond - (-4.0f64).exp()).abs() < 0.003,
            "share beyond 2 s {beyond}"
        );
    }

    #[test]
    fn split_producers_cover_every_event_once() {
        let g = Generator::new(spec(), EventKind::Measurement, 0).expect("valid");
        let mut all: Vec<u64> = (0..3).flat_map(|task| g.indexes(task, 3)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..g.len()).collect::<Vec<_>>());
    }

    #[test]
    fn classes_follow_their_fractions_and_rules() {
        let g = Generator::new(spec(), EventKind::Measurement, 1_000_000).expect("valid");
        let mut counts = std::collections::HashMap::new();
        let mut buf = Vec::new();
        for i in 0..g.len() {
            let e = g.write_record(i, &mut buf);
            let scheduled = 1_000_000 + (e.send_time_us / 1000) as i64;
            let lag = scheduled - e.event.event_time_ms();
            assert_eq!(e.delay_ms, lag, "event {i}");
            match e.class {
                EventClass::OnTime => assert_eq!(lag, 0),
                EventClass::OutOfOrder => assert!((1..=3000).contains(&lag), "lag {lag}"),
                EventClass::Late => assert!((100_000..=101_000).contains(&lag), "lag {lag}"),
                EventClass::Malformed(kind) => {
                    assert!(
                        decode(EventKind::Measurement, &buf).is_err(),
                        "{kind:?} decoded: {buf:?}"
                    );
                }
            }
            if !matches!(e.class, EventClass::Malformed(_)) {
                assert_eq!(
                    decode(EventKind::Measurement, &buf).expect("valid event"),
                    e.event
                );
            }
            *counts.entry(std::mem::discriminant(&e.class)).or_insert(0u64) += 1;
        }
        let share = |c: EventClass| counts[&std::mem::discriminant(&c)] as f64 / g.len() as f64;
        assert!((share(EventClass::OutOfOrder) - 0.1).abs() < 0.01);
        assert!((share(EventClass::Late) - 0.01).abs() < 0.004);
        assert!((share(EventClass::Malformed(MalformedKind::NotUtf8)) - 0.01).abs() < 0.004);
    }

    #[test]
    fn a_key_always_lands_in_one_partition() {
        let g = Generator::new(spec(), EventKind::Ad, 0).expect("valid");
        let mut partition_of_key = std::collections::HashMap::new();
        for i in 0..g.len() {
            let e = g.generate(i);
            assert_eq!(*partition_of_key.entry(e.key).or_insert(e.partition), e.partition);
        }
        let used: std::collections::HashSet<_> = partition_of_key.values().collect();
        assert_eq!(used.len(), 4);
    }

    #[test]
    fn zipf_makes_the_first_key_the_hottest() {
        let zipf = WorkloadSpec {
            key_distribution: KeyDistribution::Zipf { exponent: 1.2 },
            ..spec()
        };
        let g = Generator::new(zipf, EventKind::Measurement, 0).expect("valid");
        let mut hits = vec![0u32; 1000];
        for i in 0..g.len() {
            hits[g.generate(i).key as usize] += 1;
        }
        assert!(hits[0] > hits[1] && hits[1] > hits[10] && hits[10] > hits[500]);
        assert!(hits[0] as f64 > 0.1 * g.len() as f64, "key 0 is hot: {}", hits[0]);
    }

    #[test]
    fn event_times_follow_the_schedule() {
        let rate = WorkloadSpec {
            rate: RateProfile::constant(1000.0),
            events: Some(5000),
            ..WorkloadSpec::default()
        };
        let g = Generator::new(rate, EventKind::Measurement, 50_000).expect("valid");
        assert_eq!(g.generate(0).event.event_time_ms(), 50_000);
        assert_eq!(g.generate(2500).event.event_time_ms(), 52_500);
        assert_eq!(g.generate(4999).send_time_us, 4_999_000);
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let bad = WorkloadSpec { keys: 0, ..spec() };
        assert!(matches!(
            Generator::new(bad, EventKind::Ad, 0),
            Err(SpecError::Invalid { setting: "keys", .. })
        ));
        let bad = WorkloadSpec {
            malformed_fraction: 1.5,
            ..spec()
        };
        assert!(Generator::new(bad, EventKind::Ad, 0).is_err());
        let bad = WorkloadSpec {
            late: Late {
                fraction: 0.6,
                delay_ms: 1,
            },
            out_of_order: OutOfOrder {
                fraction: 0.6,
                max_delay_ms: 1,
                ..OutOfOrder::default()
            },
            ..spec()
        };
        assert!(Generator::new(bad, EventKind::Ad, 0).is_err());
    }

    #[test]
    fn a_declared_schema_must_be_keyed_by_the_workloads_key_and_count_its_events() {
        let schema = |key_draw: &str, id: &str| -> EventSchema {
            toml::from_str(&format!(
                r#"
                time = "at"
                kafka_key = "card"
                {id}
                fields = [
                  {{ name = "id", type = "integer", draw = {{ kind = "sequence" }} }},
                  {{ name = "at", type = "timestamp" }},
                  {{ name = "card", type = "integer", draw = {key_draw} }},
                ]
                "#
            ))
            .expect("a schema")
        };
        let made = |s: EventSchema| {
            Generator::with_schema(spec(), &s, 0)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert_eq!(made(schema(r#"{ kind = "key" }"#, r#"id = "id""#)), Ok(()));
        let error = made(schema(
            r#"{ kind = "zipf", n = 9, exponent = 1.0 }"#,
            r#"id = "id""#,
        ))
        .expect_err("refused");
        assert!(
            error.contains("kafka_key = `card` must name a field drawn as { kind = \"key\" }"),
            "{error}"
        );
        let error = made(schema(r#"{ kind = "key" }"#, "")).expect_err("refused");
        assert!(error.contains("needs `id`"), "{error}");
    }
}
