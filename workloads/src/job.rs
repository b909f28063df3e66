//! The job catalogue: the windowed and per-event jobs every engine runs,
//! defined once.

use serde::{Deserialize, Serialize};

use crate::declared_run::{Declared, KeyColumn};
use crate::distinct::FieldSet;
use crate::event::{AdEventType, Event, EventKind};
use crate::expr::Type;
use crate::invalid::Invalid;
use crate::rng::EventRng;
use crate::window::{Keyed, WindowSpec};

/// Ads per campaign in the Yahoo Streaming Benchmark's static table.
pub const ADS_PER_CAMPAIGN: u64 = 10;

/// One Kafka-to-PostgreSQL job: which events it reads, which it keeps, how
/// it keys and windows them (or raises a row per event), and what it computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The job's name in the catalogue and in result tables.
    pub name: String,
    /// The events it reads.
    pub input: EventKind,
    /// Which events it keeps.
    pub filter: Option<Filter>,
    /// What it groups by.
    pub key: KeyBy,
    /// How it groups in time.
    pub window: WindowSpec,
    /// What it computes per window, in output column order (none for
    /// per-event jobs, whose columns are fixed: see [`crate::per_event::EventRow`]).
    pub aggregates: Vec<Aggregate>,
    /// Bounded out-of-orderness: the watermark trails the largest event time
    /// seen by this much.
    pub watermark_delay_ms: i64,
    /// How long after its end (by the watermark) a window still accepts
    /// events, each producing a new revision of its result.
    pub allowed_lateness_ms: i64,
    /// For a job a suite declares: the declaration and its schema, from
    /// which engines compile what each record gives (the fields above then
    /// say only how to window and aggregate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<Box<Declared>>,
}

/// Which events a job keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Ad events of one type.
    AdEventType(AdEventType),
}

/// What a job groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyBy {
    /// A measurement's key.
    Key,
    /// The campaign an ad belongs to, from the static campaign table
    /// (enrichment, as in the Yahoo Streaming Benchmark's Redis join).
    Campaign,
    /// The user of an ad event.
    User,
}

/// An output column computed per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Number of events.
    Count,
    /// Sum of values.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean value.
    Mean,
    /// Earliest event time.
    FirstEventTime,
    /// Latest event time.
    LastEventTime,
    /// The value of the earliest event (by event time, then event id).
    FirstValue,
    /// The value of the latest event (by event time, then event id).
    LastValue,
    /// How many distinct values of the field ([`crate::distinct`]).
    CountDistinct,
}

impl Aggregate {
    /// Whether it reads the event's value (not only its count or time).
    pub fn reads_value(&self) -> bool {
        matches!(
            self,
            Aggregate::Sum
                | Aggregate::Min
                | Aggregate::Max
                | Aggregate::Mean
                | Aggregate::FirstValue
                | Aggregate::LastValue
                | Aggregate::CountDistinct
        )
    }

    /// The result table's column for this aggregate.
    pub fn column(&self) -> &'static str {
        match self {
            Aggregate::Count => "event_count",
            Aggregate::Sum => "value_sum",
            Aggregate::Min => "value_min",
            Aggregate::Max => "value_max",
            Aggregate::Mean => "value_mean",
            Aggregate::FirstEventTime => "first_event_time_ms",
            Aggregate::LastEventTime => "last_event_time_ms",
            Aggregate::FirstValue => "value_first",
            Aggregate::LastValue => "value_last",
            Aggregate::CountDistinct => "value_distinct",
        }
    }
}

/// One column of a windowed result table: what it computes, over which of
/// the job's value fields (0 for the first it reads; 0 too for those that
/// read none), in the decimals of that field if it is a float, and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultAggregate {
    /// What it computes.
    pub aggregate: Aggregate,
    /// Which value field it reads ([`Keyed::value`](crate::window::Keyed::value) is 0, [`Keyed::more`](crate::window::Keyed::more) 1 on).
    pub field: usize,
    /// The decimals its field is aggregated in, for a float.
    pub decimals: Option<u32>,
    /// Its column's name.
    pub column: String,
}

/// The value fields that any of `aggregates` reads among the result
/// columns `columns` ([`JobSpec::result_aggregates`]).
pub fn fields_read_by(columns: &[ResultAggregate], aggregates: &[Aggregate]) -> FieldSet {
    FieldSet::of(
        columns
            .iter()
            .filter(|c| aggregates.contains(&c.aggregate))
            .map(|c| c.field),
    )
}

/// The static ad-to-campaign table of the `ysb` job, derived from the seed:
/// ads are shuffled and dealt ten to a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignTable {
    campaign_of_ad: Vec<u64>,
}

impl CampaignTable {
    /// The table for `ads` ads under `seed`.
    pub fn new(seed: u64, ads: u64) -> CampaignTable {
        let mut order: Vec<u64> = (0..ads).collect();
        for i in (1..order.len()).rev() {
            let j = EventRng::new(seed, i as u64, 0xCA3B).below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut campaign_of_ad = vec![0; ads as usize];
        for (position, ad) in order.into_iter().enumerate() {
            campaign_of_ad[ad as usize] = position as u64 / ADS_PER_CAMPAIGN;
        }
        CampaignTable { campaign_of_ad }
    }

    /// The campaign of `ad`, if the ad is in the table.
    pub fn campaign(&self, ad: u64) -> Option<u64> {
        self.campaign_of_ad.get(ad as usize).copied()
    }

    /// Every (ad, campaign) pair, for engines that join against a table.
    pub fn pairs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.campaign_of_ad
            .iter()
            .enumerate()
            .map(|(ad, c)| (ad as u64, *c))
    }
}

impl JobSpec {
    /// The key columns of the job's windowed result table: a declared
    /// job's key fields, a catalogue job's whole-number `key`.
    pub fn key_columns(&self) -> Vec<KeyColumn> {
        match &self.declared {
            Some(declared) => declared.key_columns(),
            None => vec![KeyColumn {
                name: "key".into(),
                kind: Type::Int,
            }],
        }
    }

    /// The aggregates' columns in the job's result table, in the order of
    /// [`JobSpec::aggregates`]: a declared job's names (`as`, else
    /// `function_field`), a catalogue job's ([`Aggregate::column`]).
    pub fn aggregate_columns(&self) -> Vec<String> {
        match &self.declared {
            Some(declared) => declared.aggregate_columns(),
            None => self.aggregates.iter().map(|a| a.column().to_string()).collect(),
        }
    }

    /// The job's result columns, in the order of [`JobSpec::aggregates`]:
    /// each one's aggregate, the value field it reads, that field's decimals
    /// when it is a float (its sums, minima, maxima, first and last values
    /// are then whole units of them, written divided back,
    /// [`crate::decimals`]), and the column's name.
    pub fn result_aggregates(&self) -> Vec<ResultAggregate> {
        match &self.declared {
            Some(declared) => declared.result_aggregates(),
            None => self
                .aggregates
                .iter()
                .map(|a| ResultAggregate {
                    aggregate: *a,
                    field: 0,
                    decimals: None,
                    column: a.column().to_string(),
                })
                .collect(),
        }
    }

    /// The value fields whose distinct values the job counts.
    pub fn distinct_fields(&self) -> FieldSet {
        fields_read_by(&self.result_aggregates(), &[Aggregate::CountDistinct])
    }

    /// The key columns when the key is carried by id (text, a boolean or
    /// several fields of a declared job).
    pub fn named_key(&self) -> Option<Vec<KeyColumn>> {
        self.declared.as_deref().and_then(Declared::named_key)
    }

    /// Why the job cannot run, if it cannot.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.window.validate()?;
        if self.watermark_delay_ms < 0 {
            return Err(Invalid(format!(
                "watermark_delay_ms must be 0 or more, not {}",
                self.watermark_delay_ms
            )));
        }
        if self.allowed_lateness_ms < 0 {
            return Err(Invalid(format!(
                "allowed_lateness_ms must be 0 or more, not {}",
                self.allowed_lateness_ms
            )));
        }
        match (self.window.is_per_event(), self.aggregates.is_empty()) {
            (false, true) => return Err(Invalid("a windowed job needs at least one aggregate".into())),
            (true, false) => {
                return Err(Invalid(
                    "a per-event job writes fixed columns (event id, key, ad, user, count): it takes no aggregates"
                        .into(),
                ));
            }
            _ => {}
        }
        if !crate::names::is_identifier(&self.name) {
            return Err(Invalid(format!(
                "job name {:?} must be lower-case letters, digits and _ (at most 40)",
                self.name
            )));
        }
        Ok(())
    }

    /// How long after its due time a result owes the watermark: the
    /// watermark delay for a window (due at its end), nothing for a
    /// per-event row (due at its event's time). Latency beyond this is what
    /// the engine adds.
    pub fn result_wait_ms(&self) -> i64 {
        if self.window.is_per_event() {
            0
        } else {
            self.watermark_delay_ms
        }
    }

    /// The name of the job's input events, for messages.
    pub fn input_name(&self) -> &str {
        if let Some(declared) = &self.declared {
            return &declared.schema_name;
        }
        match self.input {
            EventKind::Ad => "ad",
            EventKind::Measurement => "measurement",
        }
    }

    /// What the job takes from `event`, or `None` if its filter drops it.
    pub fn extract(&self, event: &Event<'_>, campaigns: &CampaignTable) -> Option<Keyed> {
        match (event, self.filter) {
            (Event::Ad(ad), Some(Filter::AdEventType(wanted))) if ad.event_type != wanted => return None,
            _ => {}
        }
        let (key, value) = match (self.key, event) {
            (KeyBy::Key, Event::Measurement(m)) => (m.key, m.value),
            (KeyBy::Campaign, Event::Ad(ad)) => (campaigns.campaign(ad.ad_id)?, 1),
            (KeyBy::Key, Event::Ad(ad)) => (ad.ad_id, 1),
            (KeyBy::User, Event::Ad(ad)) => (ad.user_id, 1),
            (KeyBy::Campaign | KeyBy::User, Event::Measurement(_)) => return None,
        };
        let (ad_id, user_id) = match event {
            Event::Ad(ad) => (ad.ad_id, ad.user_id),
            Event::Measurement(_) => (0, 0),
        };
        Some(Keyed {
            event_id: event.event_id(),
            key,
            event_time_ms: event.event_time_ms(),
            value,
            ad_id,
            user_id,
            ..Keyed::default()
        })
    }
}

/// The catalogue's job names: four windowed, then two per-event.
pub const CATALOGUE: [&str; 6] = ["ysb", "tumbling", "sliding", "session", "alerts", "fraud"];

/// A job from the catalogue by name, with its default settings.
pub fn catalogue_job(name: &str) -> Option<JobSpec> {
    use Aggregate::*;
    let job = |input, filter, key, window, aggregates: &[Aggregate]| JobSpec {
        name: name.to_string(),
        input,
        filter,
        key,
        window,
        aggregates: aggregates.to_vec(),
        watermark_delay_ms: 5_000,
        allowed_lateness_ms: 0,
        declared: None,
    };
    Some(match name {
        "ysb" => job(
            EventKind::Ad,
            Some(Filter::AdEventType(AdEventType::View)),
            KeyBy::Campaign,
            WindowSpec::Tumbling { size_ms: 10_000 },
            &[Count],
        ),
        "tumbling" => job(
            EventKind::Measurement,
            None,
            KeyBy::Key,
            WindowSpec::Tumbling { size_ms: 10_000 },
            &[Count, Sum, Min, Max, Mean],
        ),
        "sliding" => job(
            EventKind::Measurement,
            None,
            KeyBy::Key,
            WindowSpec::Sliding {
                size_ms: 60_000,
                slide_ms: 10_000,
            },
            &[Mean],
        ),
        "session" => job(
            EventKind::Measurement,
            None,
            KeyBy::Key,
            WindowSpec::Session { gap_ms: 30_000 },
            &[Count, FirstEventTime, LastEventTime],
        ),
        // Every purchase, enriched with its campaign, written at once.
        "alerts" => job(
            EventKind::Ad,
            Some(Filter::AdEventType(AdEventType::Purchase)),
            KeyBy::Campaign,
            WindowSpec::Each,
            &[],
        ),
        // A user's third purchase within a minute, and each one after it.
        "fraud" => job(
            EventKind::Ad,
            Some(Filter::AdEventType(AdEventType::Purchase)),
            KeyBy::User,
            WindowSpec::Burst {
                within_ms: 60_000,
                at_least: 3,
            },
            &[],
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AdEvent, Measurement};

    #[test]
    fn every_catalogue_job_is_valid() {
        for name in CATALOGUE {
            let job = catalogue_job(name).expect("in catalogue");
            assert_eq!(job.validate(), Ok(()), "{name}");
        }
        assert!(catalogue_job("nope").is_none());
    }

    #[test]
    fn campaign_table_deals_ten_ads_to_each_campaign() {
        let table = CampaignTable::new(42, 1000);
        let mut per_campaign = vec![0; 100];
        for (_, campaign) in table.pairs() {
            per_campaign[campaign as usize] += 1;
        }
        assert!(per_campaign.iter().all(|&n| n == 10));
        assert_ne!(table, CampaignTable::new(43, 1000), "the seed shapes the table");
        assert_eq!(table, CampaignTable::new(42, 1000));
    }

    #[test]
    fn ysb_keeps_views_and_keys_by_campaign() {
        let job = catalogue_job("ysb").expect("ysb");
        let table = CampaignTable::new(1, 1000);
        let ad = |event_type| {
            Event::Ad(AdEvent {
                event_id: 5,
                event_time_ms: 77,
                user_id: 1,
                page_id: 2,
                ad_id: 321,
                ad_type: "banner",
                event_type,
                ip: "10.0.0.1",
                pad: "",
            })
        };
        let kept = job
            .extract(&ad(AdEventType::View), &table)
            .expect("views are kept");
        assert_eq!(kept.key, table.campaign(321).expect("ad 321"));
        assert_eq!((kept.event_id, kept.event_time_ms, kept.value), (5, 77, 1));
        assert_eq!(job.extract(&ad(AdEventType::Click), &table), None);
    }

    #[test]
    fn measurement_jobs_keep_key_and_value() {
        let job = catalogue_job("tumbling").expect("tumbling");
        let m = Event::Measurement(Measurement {
            event_id: 1,
            event_time_ms: 2,
            key: 3,
            value: -4,
            pad: "",
        });
        let kept = job.extract(&m, &CampaignTable::new(0, 0)).expect("kept");
        assert_eq!((kept.key, kept.value), (3, -4));
    }

    #[test]
    fn per_event_jobs_keep_purchases_with_their_ad_and_user() {
        let table = CampaignTable::new(1, 1000);
        let purchase = Event::Ad(AdEvent {
            event_id: 8,
            event_time_ms: 9,
            user_id: 42,
            page_id: 2,
            ad_id: 321,
            ad_type: "banner",
            event_type: AdEventType::Purchase,
            ip: "10.0.0.1",
            pad: "",
        });
        let alerts = catalogue_job("alerts").expect("alerts");
        let kept = alerts.extract(&purchase, &table).expect("purchases are kept");
        assert_eq!(
            (kept.key, kept.ad_id, kept.user_id),
            (table.campaign(321).expect("ad"), 321, 42)
        );
        let fraud = catalogue_job("fraud").expect("fraud");
        assert_eq!(fraud.extract(&purchase, &table).map(|k| k.key), Some(42));
        let mut windowed = catalogue_job("ysb").expect("ysb");
        windowed.aggregates.clear();
        assert!(windowed.validate().is_err());
        let mut per_event = alerts;
        per_event.aggregates.push(Aggregate::Count);
        assert!(per_event.validate().is_err());
    }
}
