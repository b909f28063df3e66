//! The events on the topic: what they hold and how they are written.

use serde::{Deserialize, Serialize};

/// Which kind of event a workload produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Ad analytics in the style of the Yahoo Streaming Benchmark.
    Ad,
    /// A keyed measurement: a key and an integer value.
    Measurement,
}

/// What a user did with an ad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdEventType {
    /// The ad was shown.
    View,
    /// The ad was clicked.
    Click,
    /// The ad led to a purchase.
    Purchase,
}

impl AdEventType {
    /// Every type, in the order the generator draws them.
    pub const ALL: [AdEventType; 3] = [AdEventType::View, AdEventType::Click, AdEventType::Purchase];

    /// Its name in an event's JSON (and in a built-in schema's enum).
    pub fn name(self) -> &'static str {
        match self {
            AdEventType::View => "view",
            AdEventType::Click => "click",
            AdEventType::Purchase => "purchase",
        }
    }
}

/// The kinds of ad, as in the Yahoo Streaming Benchmark.
pub const AD_TYPES: [&str; 5] = ["banner", "modal", "sponsored-search", "mail", "mobile"];

/// One ad-analytics event (Yahoo Streaming Benchmark).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdEvent<'a> {
    /// The event's sequence number in the workload: unique, and the index
    /// the generator made it from.
    pub event_id: u64,
    /// When the event happened, in milliseconds since the Unix epoch.
    pub event_time_ms: i64,
    /// The user who saw the ad.
    pub user_id: u64,
    /// The page the ad was on.
    pub page_id: u64,
    /// The ad; the Kafka key.
    pub ad_id: u64,
    /// One of [`AD_TYPES`].
    pub ad_type: &'a str,
    /// What happened.
    pub event_type: AdEventType,
    /// The user's address.
    pub ip: &'a str,
    /// Padding to reach a configured event size; ignored by every job.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub pad: &'a str,
}

/// One keyed measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measurement<'a> {
    /// The event's sequence number in the workload.
    pub event_id: u64,
    /// When the event happened, in milliseconds since the Unix epoch.
    pub event_time_ms: i64,
    /// The key; the Kafka key.
    pub key: u64,
    /// The measured value (an integer, so that sums are exact in every engine).
    pub value: i64,
    /// Padding to reach a configured event size; ignored by every job.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub pad: &'a str,
}

/// A well-formed event of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// An ad-analytics event.
    Ad(AdEvent<'a>),
    /// A keyed measurement.
    Measurement(Measurement<'a>),
}

impl Event<'_> {
    /// The event's sequence number.
    pub fn event_id(&self) -> u64 {
        match self {
            Event::Ad(e) => e.event_id,
            Event::Measurement(e) => e.event_id,
        }
    }

    /// When the event happened, in milliseconds since the Unix epoch.
    pub fn event_time_ms(&self) -> i64 {
        match self {
            Event::Ad(e) => e.event_time_ms,
            Event::Measurement(e) => e.event_time_ms,
        }
    }

    /// The key the workload's key distribution drew for it: its ad, or
    /// its measurement's key.
    pub fn drawn_key(&self) -> u64 {
        match self {
            Event::Ad(e) => e.ad_id,
            Event::Measurement(e) => e.key,
        }
    }

    /// The value the event is partitioned by on the topic.
    pub fn partition_key(&self) -> u64 {
        match self {
            Event::Ad(e) => e.user_id,
            Event::Measurement(e) => e.key,
        }
    }

    /// Appends the event's JSON encoding to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Serializing these plain structs into a Vec cannot fail.
        let written = match self {
            Event::Ad(e) => serde_json::to_writer(&mut *out, e),
            Event::Measurement(e) => serde_json::to_writer(&mut *out, e),
        };
        debug_assert!(written.is_ok());
    }
}

/// Why a decoder must refuse a record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Larger than any event may be.
    #[error("record of {size} bytes exceeds the {limit}-byte limit")]
    Oversized {
        /// The record's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid JSON, a missing field, a mistyped field, or not UTF-8.
    #[error("{0}")]
    Invalid(String),
}

/// The largest record an engine accepts as an event; larger ones are dead letters.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Decodes one record of `kind`, borrowing strings from `bytes`.
pub fn decode(kind: EventKind, bytes: &[u8]) -> Result<Event<'_>, DecodeError> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(DecodeError::Oversized {
            size: bytes.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    let invalid = |e: serde_json::Error| DecodeError::Invalid(e.to_string());
    Ok(match kind {
        EventKind::Ad => Event::Ad(serde_json::from_slice(bytes).map_err(invalid)?),
        EventKind::Measurement => Event::Measurement(serde_json::from_slice(bytes).map_err(invalid)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_types_name_is_how_its_json_writes_it() {
        for event_type in AdEventType::ALL {
            let written = serde_json::to_string(&event_type).expect("serializes");
            assert_eq!(written, format!("\"{}\"", event_type.name()));
        }
    }

    #[test]
    fn events_round_trip_through_json() {
        let ad = Event::Ad(AdEvent {
            event_id: 9,
            event_time_ms: 1_700_000_000_123,
            user_id: 4,
            page_id: 5,
            ad_id: 6,
            ad_type: "banner",
            event_type: AdEventType::Click,
            ip: "10.0.0.1",
            pad: "",
        });
        let mut json = Vec::new();
        ad.write_json(&mut json);
        assert_eq!(decode(EventKind::Ad, &json), Ok(ad));

        let m = Event::Measurement(Measurement {
            event_id: 1,
            event_time_ms: -5,
            key: 3,
            value: -7,
            pad: "xx",
        });
        json.clear();
        m.write_json(&mut json);
        assert_eq!(decode(EventKind::Measurement, &json), Ok(m));
    }

    #[test]
    fn bad_records_are_refused_with_a_reason() {
        assert!(matches!(
            decode(EventKind::Measurement, b"{\"event_id\":1,"),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            decode(EventKind::Measurement, b"{\"event_id\":1,\"key\":2,\"value\":3}"),
            Err(DecodeError::Invalid(m)) if m.contains("event_time_ms")
        ));
        assert!(matches!(
            decode(
                EventKind::Measurement,
                b"{\"event_id\":1,\"event_time_ms\":\"x\",\"key\":2,\"value\":3}"
            ),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            decode(EventKind::Measurement, &[0xff, 0xfe, b'{']),
            Err(DecodeError::Invalid(_))
        ));
        let huge = vec![b' '; MAX_EVENT_BYTES + 1];
        assert!(matches!(
            decode(EventKind::Measurement, &huge),
            Err(DecodeError::Oversized { .. })
        ));
    }
}
