//! The wire format of a workload's records: how the generator writes each
//! event to Kafka and how every engine reads it back.

use serde::{Deserialize, Serialize};

/// How an event is written as a Kafka record's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per record.
    #[default]
    Json,
    /// An Avro binary datum in the Confluent wire format (see [`crate::avro`]).
    Avro,
    /// A Protobuf message in the Confluent wire format (see [`crate::protobuf`]).
    Protobuf,
}

impl Format {
    /// Every format, in the order a report lists them.
    pub const ALL: [Format; 3] = [Format::Json, Format::Avro, Format::Protobuf];

    /// Its name in suites and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Avro => "avro",
            Format::Protobuf => "protobuf",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a format: json, avro or protobuf"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_parses_from_its_own_name_and_nothing_else_does() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(format));
        }
        let refused = "xml".parse::<Format>().unwrap_err();
        assert!(refused.contains("json, avro or protobuf"), "{refused}");
    }
}
