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
use streambench_workloads::event::{AdEvent, AdEventType, Event, EventKind, Measurement};

use crate::error::{Error, Result};

/// The event time of an end-of-input marker: 2100-01-01T00:00:00Z.
pub const END_OF_INPUT_MS: i64 = 4_102_444_800_000;

/// The marker for a job reading `kind` events: JSON that decodes as such an event.
pub fn marker(kind: EventKind) -> Vec<u8> {
    let event = match kind {
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

    /// Writes the marker for a job reading `kind` events.
    pub async fn append(&self, brokers: &str, kind: EventKind) -> Result<()> {
        append(brokers, &self.0, &[0], kind).await
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
async fn append(brokers: &str, topic: &str, partitions: &[i32], kind: EventKind) -> Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .map_err(Error::kafka(format!(
            "creating a producer for end-of-input markers on {brokers}"
        )))?;
    let payload = marker(kind);
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
    use streambench_workloads::event::decode;

    #[test]
    fn markers_are_events_of_the_jobs_kind_dated_end_of_input() {
        for kind in [EventKind::Measurement, EventKind::Ad] {
            let bytes = marker(kind);
            let event = decode(kind, &bytes).expect("a marker decodes");
            assert_eq!(event.event_time_ms(), END_OF_INPUT_MS);
        }
    }
}
