//! What the suite model knows of an engine: its name, and the profile the
//! engine registry (`engines/src/registry.rs`) gives for it. Which engines
//! exist is the registry's to say, not this crate's: a suite is checked
//! against the profiles it is given, so a new engine is its module and its
//! registry line, and nothing here.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::delivery::DeliveryMode;
use crate::format::Format;

/// An engine's name as suites, the command line and results spell it.
/// Names order streambench's two engines first, then the rest by name, as
/// reports list them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EngineName(&'static str);

impl EngineName {
    /// Where the name sorts: streambench's two engines, then the rest by name.
    fn rank(&self) -> (u8, &'static str) {
        match *self {
            EngineName::CONTINUOUS => (0, self.0),
            EngineName::MICROBATCH => (1, self.0),
            _ => (2, self.0),
        }
    }
}

impl Ord for EngineName {
    fn cmp(&self, other: &EngineName) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for EngineName {
    fn partial_cmp(&self, other: &EngineName) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl EngineName {
    /// Streambench's event-by-event engine (Flink's model): one side of the
    /// model comparison that `bench` and the reports draw.
    pub const CONTINUOUS: EngineName = EngineName("continuous");
    /// Streambench's micro-batch engine (Spark's model): the other side.
    pub const MICROBATCH: EngineName = EngineName("microbatch");

    /// The engine spelt `name`.
    pub const fn new(name: &'static str) -> EngineName {
        EngineName(name)
    }

    /// The engine spelt `name`, read from a file: kept for the life of the
    /// process, once per distinct name.
    pub fn interned(name: &str) -> EngineName {
        static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
        let mut names = NAMES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(known) = names.get(name) {
            return EngineName(known);
        }
        let kept: &'static str = Box::leak(name.to_string().into_boxed_str());
        names.insert(kept);
        EngineName(kept)
    }

    /// The name as suites and the command line spell it.
    pub const fn as_str(&self) -> &'static str {
        self.0
    }
}

impl std::fmt::Debug for EngineName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::fmt::Display for EngineName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for EngineName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for EngineName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EngineName, D::Error> {
        let name = String::deserialize(deserializer)?;
        if !crate::names::is_identifier(&name) {
            return Err(serde::de::Error::custom(format!(
                "{name:?} is not an engine name (lower-case letters, digits and _)"
            )));
        }
        Ok(EngineName::interned(&name))
    }
}

/// What an engine offers, as suites and plans need it without running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineProfile {
    /// Its name.
    pub name: EngineName,
    /// Whether it runs in batches started by a trigger (and so takes
    /// `trigger_interval_ms`) rather than checkpointing a running pipeline
    /// (`checkpoint_interval_ms`).
    pub triggered: bool,
    /// Whether its sink offers exactly-once (transactional) delivery.
    pub transactional: bool,
    /// Whether a windowed job's late events reach its late side output,
    /// where the check counts them (Flink SQL's and Spark's windows drop
    /// them unseen).
    pub reports_late_window_events: bool,
    /// Whether its summary counts every record it read (streambench's
    /// engines), rather than sampling a metric (Flink's, Spark's).
    pub counts_reads_exactly: bool,
    /// The wire formats it reads.
    pub formats: &'static [Format],
}

impl EngineProfile {
    /// The interval setting it takes: `trigger_interval_ms` or
    /// `checkpoint_interval_ms`.
    pub fn interval_setting(&self) -> &'static str {
        if self.triggered {
            "trigger_interval_ms"
        } else {
            "checkpoint_interval_ms"
        }
    }

    /// Why it cannot read records written in `format`, if it cannot.
    pub fn cannot_read(&self, format: Format) -> Option<String> {
        let read: Vec<&str> = self.formats.iter().map(|f| f.as_str()).collect();
        (!self.formats.contains(&format)).then(|| {
            format!(
                "{} reads {} records only, and this workload writes {format}",
                self.name.as_str(),
                read.join(" and ")
            )
        })
    }

    /// Whether it offers `delivery`.
    pub fn offers(&self, delivery: DeliveryMode) -> bool {
        delivery != DeliveryMode::Transactional || self.transactional
    }
}

/// Profiles shaped like streambench's five engines, for this crate's own
/// tests and fuzz targets, which run without the engine registry.
pub fn examples() -> Vec<EngineProfile> {
    let own = |name, triggered| EngineProfile {
        name,
        triggered,
        transactional: true,
        reports_late_window_events: true,
        counts_reads_exactly: true,
        formats: &Format::ALL,
    };
    let peer = |name, triggered, transactional| EngineProfile {
        name: EngineName::new(name),
        triggered,
        transactional,
        reports_late_window_events: false,
        counts_reads_exactly: false,
        formats: &[Format::Json],
    };
    vec![
        own(EngineName::CONTINUOUS, false),
        own(EngineName::MICROBATCH, true),
        peer("spark", true, true),
        peer("flink", false, false),
        peer("spark_realtime", false, false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_read_back_is_the_same_name() {
        let read: EngineName = serde_json::from_str("\"microbatch\"").expect("a name");
        assert_eq!(read, EngineName::MICROBATCH);
        assert_eq!(EngineName::interned("spark").as_str(), "spark");
        assert!(serde_json::from_str::<EngineName>("\"Not A Name\"").is_err());
        assert_eq!(
            serde_json::to_string(&EngineName::CONTINUOUS).expect("json"),
            "\"continuous\""
        );
    }

    #[test]
    fn streambench_s_two_engines_sort_first_then_the_rest_by_name() {
        let mut names = [
            EngineName::new("spark"),
            EngineName::MICROBATCH,
            EngineName::new("flink"),
            EngineName::CONTINUOUS,
        ];
        names.sort();
        let spelt: Vec<&str> = names.iter().map(EngineName::as_str).collect();
        assert_eq!(spelt, ["continuous", "microbatch", "flink", "spark"]);
    }

    #[test]
    fn only_a_transactional_sink_offers_exactly_once() {
        let examples = examples();
        let flink = examples
            .iter()
            .find(|p| p.name.as_str() == "flink")
            .expect("flink");
        assert!(!flink.offers(DeliveryMode::Transactional));
        assert!(flink.offers(DeliveryMode::Upsert));
        assert_eq!(flink.interval_setting(), "checkpoint_interval_ms");
        assert_eq!(examples[1].interval_setting(), "trigger_interval_ms");
    }
}
