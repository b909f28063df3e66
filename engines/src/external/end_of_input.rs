//! End-of-input markers. An engine whose windows close only when the
//! watermark passes them (Spark) has no other way to write its last
//! windows when input ends; once it has read the input to its end, the
//! adapter writes one well-formed event dated [`END_OF_INPUT_MS`], which
//! carries the watermark past every window, and which the job drops
//! before aggregating it. Nothing else ever has that event time.
//!
//! The marker goes to a topic of streambench's own beside the input
//! ([`MarkerTopic`]), which the job reads too: never into the input, which
//! may be a user's data.

use std::path::Path;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::json;
use streambench_workloads::event::{AdEvent, AdEventType, Event, EventKind, Measurement};
use streambench_workloads::job::JobSpec;
use streambench_workloads::schema::{EventSchema, FieldType};

use crate::error::{Error, Result};

/// The event time of an end-of-input marker: 2100-01-01T00:00:00Z.
pub const END_OF_INPUT_MS: i64 = 4_102_444_800_000;

/// The marker for `job`: JSON that decodes as an event of its input (a
/// built-in kind, or the schema it declares).
pub fn marker(job: &JobSpec) -> Vec<u8> {
    if let Some(declared) = &job.declared {
        return declared_marker(&declared.schema);
    }
    let event = match job.input {
        EventKind::Measurement => Event::Measurement(Measurement {
            event_id: 0,
            event_time_ms: END_OF_INPUT_MS,
            key: 0,
            value: 0,
            pad: "",
        }),
        EventKind::Ad => Event::Ad(AdEvent {
            event_id: 0,
            event_time_ms: END_OF_INPUT_MS,
            user_id: 0,
            page_id: 0,
            ad_id: 0,
            ad_type: "banner",
            event_type: AdEventType::View,
            ip: "0.0.0.0",
            pad: "",
        }),
    };
    let mut bytes = Vec::new();
    event.write_json(&mut bytes);
    bytes
}

/// A record of `schema` dated [`END_OF_INPUT_MS`]: every other field 0, an
/// empty text, `false`, or an enum's first value.
fn declared_marker(schema: &EventSchema) -> Vec<u8> {
    let fields: serde_json::Map<String, serde_json::Value> = schema
        .fields
        .iter()
        .map(|field| {
            let value = match field.kind {
                _ if field.name == schema.time => json!(END_OF_INPUT_MS),
                FieldType::Integer | FieldType::Timestamp => json!(0),
                FieldType::Float => json!(0.0),
                FieldType::String => json!(""),
                FieldType::Boolean => json!(false),
                FieldType::Enum => json!(field.values.first()),
            };
            (field.name.clone(), value)
        })
        .collect();
    serde_json::to_vec(&fields).expect("a JSON object")
}

/// Where every marker topic's name starts: topics under it are streambench's.
pub const MARKER_TOPIC_PREFIX: &str = "streambench-end-of-input.";

/// The file, in an engine's checkpoint folder, that names its marker topic.
const MARKER_TOPIC_FILE: &str = "end_of_input_topic";

/// The marker topic of one checkpoint folder: made at its first start,
/// named after the input and that start, and kept across restarts (the
/// engine's checkpoint holds its offsets). A fresh folder gets a new one,
/// so a marker from an earlier run is never read again.
pub struct MarkerTopic(pub String);

impl MarkerTopic {
    /// The prefix of the marker topics of `input`'s runs.
    pub fn prefix_for(input: &str) -> String {
        format!("{MARKER_TOPIC_PREFIX}{input}.")
    }

    /// The marker topic `checkpoint_dir` names, or a new one for `input`
    /// (named in the folder); created on `brokers` if it is missing.
    pub async fn for_run(checkpoint_dir: &Path, input: &str, brokers: &str) -> Result<MarkerTopic> {
        let file = checkpoint_dir.join(MARKER_TOPIC_FILE);
        let name = match std::fs::read_to_string(&file) {
            Ok(name) => name.trim().to_string(),
            Err(_) => {
                let started = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let name = format!("{}{started:x}", MarkerTopic::prefix_for(input));
                std::fs::write(&file, &name).map_err(Error::checkpoint_write(&file))?;
                name
            }
        };
        create_if_missing(brokers, &name).await?;
        Ok(MarkerTopic(name))
    }

    /// Writes the marker for `job`.
    pub async fn append(&self, brokers: &str, job: &JobSpec) -> Result<()> {
        append(brokers, &self.0, &[0], job).await
    }
}

/// Creates `topic` with one partition, unless it exists.
async fn create_if_missing(brokers: &str, topic: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(Error::kafka(format!("connecting to {brokers}")))?;
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1)).set("retention.ms", "-1");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let what = format!("creating the end-of-input topic {topic} on {brokers}");
    let results = admin
        .create_topics(&[new], &options)
        .await
        .map_err(Error::kafka(what.clone()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(Error::kafka(what)(rdkafka::error::KafkaError::AdminOp(code))),
        }
    }
    Ok(())
}

/// Appends a marker to each of `partitions` of `topic`.
async fn append(brokers: &str, topic: &str, partitions: &[i32], job: &JobSpec) -> Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .map_err(Error::kafka(format!(
            "creating a producer for end-of-input markers on {brokers}"
        )))?;
    let payload = marker(job);
    for partition in partitions {
        producer
            .send(
                FutureRecord::<(), _>::to(topic)
                    .partition(*partition)
                    .payload(&payload),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| {
                Error::kafka(format!("writing the end-of-input marker to {topic}[{partition}]"))(e)
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use streambench_workloads::declared_job::DeclaredJob;
    use streambench_workloads::declared_run::lower;
    use streambench_workloads::event::decode;
    use streambench_workloads::expr::Val;
    use streambench_workloads::job::catalogue_job;
    use streambench_workloads::schema_decoder::SchemaDecoder;

    #[test]
    fn markers_are_events_of_the_jobs_input_dated_end_of_input() {
        for name in ["tumbling", "ysb"] {
            let job = catalogue_job(name).expect(name);
            let bytes = marker(&job);
            let event = decode(job.input, &bytes).expect("a marker decodes");
            assert_eq!(event.event_time_ms(), END_OF_INPUT_MS);
        }
        let schema: EventSchema = serde_json::from_value(json!({
            "time": "at", "kafka_key": "card", "id": "id",
            "fields": [
                {"name": "id", "type": "integer", "draw": {"kind": "sequence"}},
                {"name": "at", "type": "timestamp"},
                {"name": "card", "type": "integer", "draw": {"kind": "key"}},
                {"name": "rate", "type": "float", "draw": {"kind": "constant", "value": 0.5}},
                {"name": "note", "type": "string", "draw": {"kind": "constant", "value": "x"}},
                {"name": "online", "type": "boolean", "draw": {"kind": "constant", "value": true}},
                {"name": "country", "type": "enum", "values": ["US", "DE"], "draw": {"kind": "constant", "value": "DE"}},
            ]
        }))
        .expect("a schema");
        let schemas = BTreeMap::from([("payment".to_string(), schema)]);
        let declared: DeclaredJob = serde_json::from_value(json!({
            "input": "payment", "window": {"kind": "tumbling", "size_ms": 1000}, "aggregates": ["count"]
        }))
        .expect("job");
        let job = lower("sales", &declared, &schemas).expect("lowered");
        let values = SchemaDecoder::new(&schemas["payment"])
            .decode(&marker(&job))
            .expect("a marker decodes");
        let time = schemas["payment"]
            .fields
            .iter()
            .position(|f| f.name == "at")
            .expect("at");
        assert_eq!(values[time], Val::Int(END_OF_INPUT_MS));
    }
}
