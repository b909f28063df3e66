//! Where a job starts reading its topic.

use std::fmt;
use std::str::FromStr;

/// The first offset to read in each partition, as the user chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartPosition {
    /// The oldest record still in the topic.
    Earliest,
    /// Only records produced after the job starts.
    Latest,
    /// The first record whose Kafka timestamp is at or after this (ms since the epoch).
    Timestamp(i64),
    /// Where the engine's last checkpoint (or, in transactional mode, the
    /// offsets table) left off; else the consumer group's committed offsets;
    /// else the earliest.
    #[default]
    Checkpoint,
}

impl FromStr for StartPosition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "earliest" => Ok(StartPosition::Earliest),
            "latest" => Ok(StartPosition::Latest),
            "checkpoint" => Ok(StartPosition::Checkpoint),
            _ => match text.strip_prefix("timestamp:").map(str::parse::<i64>) {
                Some(Ok(ms)) if ms >= 0 => Ok(StartPosition::Timestamp(ms)),
                _ => Err(format!(
                    "unknown start position {text:?}: use earliest, latest, checkpoint or timestamp:<ms since the epoch>"
                )),
            },
        }
    }
}

impl fmt::Display for StartPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartPosition::Earliest => f.write_str("earliest"),
            StartPosition::Latest => f.write_str("latest"),
            StartPosition::Timestamp(ms) => write!(f, "timestamp:{ms}"),
            StartPosition::Checkpoint => f.write_str("checkpoint"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_print_back() {
        for text in ["earliest", "latest", "checkpoint", "timestamp:1700000000000"] {
            let position: StartPosition = text.parse().expect(text);
            assert_eq!(position.to_string(), text);
        }
        assert_eq!("timestamp:5".parse(), Ok(StartPosition::Timestamp(5)));
        for bad in ["", "first", "timestamp:", "timestamp:-1", "timestamp:x"] {
            assert!(bad.parse::<StartPosition>().is_err(), "{bad:?}");
        }
    }
}
