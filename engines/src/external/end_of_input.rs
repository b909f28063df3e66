//! End-of-input markers. An engine whose windows close only when the
//! watermark passes them (Spark, Flink SQL) has no other way to write its
//! last windows when input ends; the adapter then appends to every
//! partition one well-formed event dated [`END_OF_INPUT_MS`], which carries
//! the watermark past every window, and which the job drops before
//! aggregating it. Nothing else ever has that event time.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
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

/// Appends a marker to each of `partitions` of `topic`.
pub async fn append(brokers: &str, topic: &str, partitions: &[i32], kind: EventKind) -> Result<()> {
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
