//! An engine's settings as one typed struct that is at once its command
//! line (a clap `Args`), its suite table (`[settings.<engine>]`, through
//! serde) and, back again, the flags the harness starts it with
//! ([`to_args`]). Field names are the one spelling: `parallelism` in a
//! suite is `--parallelism` on the command line, so the parser and the
//! runner cannot disagree.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use streambench_workloads::scenario::SettingValue;

/// A checkpoint or trigger interval: milliseconds, or `off`. Every engine
/// takes this type for its interval, so `off` means the same everywhere:
/// no checkpoints for a checkpointing engine, batches back to back for a
/// triggered one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Option<Duration>);

impl Interval {
    /// An interval of `ms` milliseconds.
    pub const fn ms(ms: u64) -> Interval {
        Interval(Some(Duration::from_millis(ms)))
    }

    /// No interval: `off`.
    pub const OFF: Interval = Interval(None);
}

impl std::str::FromStr for Interval {
    type Err = String;

    fn from_str(text: &str) -> Result<Interval, String> {
        match text {
            "off" => Ok(Interval::OFF),
            _ => match text.parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Interval::ms(ms)),
                _ => Err(format!(
                    "{text:?} is not a positive number of milliseconds or `off`"
                )),
            },
        }
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(d) => write!(f, "{}", d.as_millis()),
            None => f.write_str("off"),
        }
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Interval, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Ms(u64),
            Word(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Ms(ms) => ms.to_string().parse(),
            Written::Word(word) => word.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// What an engine's settings struct is: its flags (clap), its suite table
/// (serde, every field defaulted, unknown keys refused) and its defaults,
/// which come from the clap attributes alone ([`defaults`]).
pub trait EngineOptions: clap::Args + clap::FromArgMatches + Serialize + DeserializeOwned + Default {}

impl<T: clap::Args + clap::FromArgMatches + Serialize + DeserializeOwned + Default> EngineOptions for T {}

/// The settings as flags: `--field-name value` per field, `--flag` for a
/// true switch, nothing for an unset option or a false switch.
pub fn to_args<T: Serialize>(options: &T) -> Vec<String> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(options) else {
        return Vec::new();
    };
    let mut args = Vec::new();
    for (name, value) in fields {
        let flag = format!("--{}", name.replace('_', "-"));
        match value {
            serde_json::Value::Null | serde_json::Value::Bool(false) => {}
            serde_json::Value::Bool(true) => args.push(flag),
            serde_json::Value::String(text) => args.extend([flag, text]),
            other => args.extend([flag, other.to_string()]),
        }
    }
    args
}

/// The settings as the command line gives them with no flags: the clap
/// attributes' defaults, so `Default` and the parser cannot differ.
pub fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    parse_args(std::iter::empty::<String>()).expect("every engine setting has a default")
}

/// `T` parsed from `args` (flags only, no program name), as the command
/// line would parse them.
pub fn parse_args<T: clap::Args + clap::FromArgMatches>(
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> Result<T, clap::Error> {
    let command = T::augment_args(clap::Command::new("args").no_binary_name(true));
    T::from_arg_matches(&command.try_get_matches_from(args)?)
}

/// The settings a suite gives (one value per key), on top of the defaults;
/// an unknown key or a value of the wrong kind is refused with serde's words.
pub fn from_settings<T: DeserializeOwned>(settings: &BTreeMap<String, SettingValue>) -> Result<T, String> {
    let object = serde_json::to_value(settings).map_err(|e| e.to_string())?;
    serde_json::from_value(object).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::continuous::ContinuousOptions;
    use crate::external::flink::FlinkOptions;
    use crate::external::spark::SparkOptions;
    use crate::microbatch::{MicrobatchOptions, OutputMode};

    /// `options` through its flags and back, and through a suite's table and back.
    fn round_trip<T: EngineOptions + PartialEq + std::fmt::Debug>(options: T) {
        let flags = to_args(&options);
        assert_eq!(
            parse_args::<T>(&flags).expect("the flags parse"),
            options,
            "{flags:?}"
        );
        let serde_json::Value::Object(fields) = serde_json::to_value(&options).expect("serialises") else {
            panic!("options serialise to a table");
        };
        let table: BTreeMap<String, SettingValue> = fields
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| (name, serde_json::from_value(value).expect("a setting")))
            .collect();
        assert_eq!(from_settings::<T>(&table).expect("reads"), options);
    }

    #[test]
    fn every_engines_options_read_back_from_its_flags_and_its_suite_table() {
        round_trip(ContinuousOptions::default());
        round_trip(ContinuousOptions {
            parallelism: 3,
            checkpoint_interval_ms: Interval::OFF,
            watermark_interval_ms: 7,
            idle_timeout_ms: 9,
        });
        round_trip(MicrobatchOptions::default());
        round_trip(MicrobatchOptions {
            parallelism: 2,
            trigger_interval_ms: Interval::OFF,
            max_offsets_per_trigger: Some(5),
            output_mode: OutputMode::Update,
            idle_timeout_ms: 11,
        });
        round_trip(SparkOptions::default());
        round_trip(SparkOptions {
            trigger_interval_ms: Interval::ms(300),
            max_offsets_per_trigger: Some(6),
            master: "spark://h:7077".into(),
            shuffle_partitions: 2,
            state_store: crate::external::spark::StateStore::Rocksdb,
        });
        round_trip(FlinkOptions::default());
        round_trip(FlinkOptions {
            checkpoint_interval_ms: Interval::OFF,
            parallelism: 2,
            idle_timeout_ms: 3,
            heap_mb: 512,
            jdbc_batch_rows: 7,
            jdbc_flush_interval_ms: 8,
            cluster: Some("http://jm:8081".into()),
            state_uri: Some("file:///tmp/s".into()),
        });
    }

    #[test]
    fn defaults_are_the_flags_defaults() {
        assert_eq!(ContinuousOptions::default().parallelism, 1);
        assert_eq!(
            ContinuousOptions::default().checkpoint_interval_ms,
            Interval::ms(10_000)
        );
        assert_eq!(MicrobatchOptions::default().output_mode, OutputMode::Append);
        assert_eq!(
            from_settings::<FlinkOptions>(&BTreeMap::new()),
            Ok(FlinkOptions::default())
        );
    }

    #[test]
    fn intervals_read_and_write_off_and_milliseconds() {
        assert_eq!("off".parse(), Ok(Interval::OFF));
        assert_eq!("250".parse(), Ok(Interval::ms(250)));
        assert!("0".parse::<Interval>().is_err() && "soon".parse::<Interval>().is_err());
        assert_eq!(Interval::ms(250).to_string(), "250");
        assert_eq!(serde_json::to_string(&Interval::OFF).unwrap(), "\"off\"");
        let read: Interval = serde_json::from_str("1000").unwrap();
        assert_eq!(read, Interval::ms(1000));
    }
}
