//! The catalogue's jobs written as declared jobs over their kind's
//! built-in schema ([`EventSchema::builtin`]): the form in which
//! streambench's engines run them, through the same record plan as a
//! suite's own jobs. `ysb`'s and `alerts`' campaign table is dealt from the
//! workload's seed, as the catalogue deals it. The per-event jobs' rows
//! carry the ad and the user, as the plan carries the fields of those names
//! ([`crate::declared_run::CARRIED_FIELDS`]).

use std::collections::BTreeMap;

use crate::declared_job::{DeclaredJob, Enrich};
use crate::declared_run::Declared;
use crate::event::EventKind;
use crate::generator::WorkloadSpec;
use crate::job::{Aggregate, CampaignTable, Filter, JobSpec, KeyBy};
use crate::schema::{EventSchema, Literal};

/// `job` (a catalogue job with its settings; a suite's own declaration, if
/// it has one, is not read) as a declared job over its kind's built-in
/// schema, for a workload of `seed` with `keys` keys.
pub fn declared_form(job: &JobSpec, seed: u64, keys: u64) -> Declared {
    let spec = WorkloadSpec {
        seed,
        keys,
        ..WorkloadSpec::default()
    };
    let mut schema = EventSchema::builtin(job.input, &spec);
    schema.id = Some("event_id".into());
    let schema_name = job.input_name().to_string();
    let ad = job.input == EventKind::Ad;
    let reads_value = job.aggregates.iter().any(|a| a.reads_value());
    let declared = DeclaredJob {
        input: schema_name.clone(),
        filter: job
            .filter
            .map(|Filter::AdEventType(wanted)| format!("event_type = '{}'", wanted.name())),
        // An ad event's value is 1, as the catalogue's extraction gives it.
        derive: match ad && reads_value {
            true => vec![derived("value", "1")],
            false => Vec::new(),
        },
        key: vec![key_field(job.key, job.input).to_string()],
        enrich: (job.key == KeyBy::Campaign).then(|| campaigns(seed, keys)),
        window: job.window,
        aggregates: job.aggregates.iter().map(|a| call(*a).to_string()).collect(),
        watermark_delay_ms: job.watermark_delay_ms,
        allowed_lateness_ms: job.allowed_lateness_ms,
    };
    Declared {
        schema_name,
        schema,
        job: declared,
    }
}

/// The aggregate as a declared job writes it.
fn call(aggregate: Aggregate) -> &'static str {
    match aggregate {
        Aggregate::Count => "count",
        Aggregate::Sum => "sum(value)",
        Aggregate::Min => "min(value)",
        Aggregate::Max => "max(value)",
        Aggregate::Mean => "mean(value)",
        Aggregate::FirstEventTime => "min(event_time_ms)",
        Aggregate::LastEventTime => "max(event_time_ms)",
        Aggregate::FirstValue => "first(value)",
        Aggregate::LastValue => "last(value)",
        Aggregate::CountDistinct => "count_distinct(value)",
    }
}

/// The field a catalogue job keys by, in its kind's built-in schema (the
/// campaign is the enrichment table's column).
fn key_field(key: KeyBy, input: EventKind) -> &'static str {
    match (key, input) {
        (KeyBy::Key, EventKind::Measurement) => "key",
        (KeyBy::Key, EventKind::Ad) => "ad_id",
        (KeyBy::Campaign, _) => "campaign",
        (KeyBy::User, _) => "user_id",
    }
}

fn derived(name: &str, expr: &str) -> crate::declared_job::Derived {
    crate::declared_job::Derived {
        name: name.into(),
        expr: expr.into(),
        decimals: None,
    }
}

/// The ad-to-campaign table of `ysb`, as rows joined on `ad_id`.
fn campaigns(seed: u64, ads: u64) -> Enrich {
    let table = CampaignTable::new(seed, ads);
    let rows = table.pairs().map(|(ad, campaign)| {
        BTreeMap::from([
            ("ad_id".to_string(), Literal::Integer(ad as i64)),
            ("campaign".to_string(), Literal::Integer(campaign as i64)),
        ])
    });
    Enrich {
        on: "ad_id".into(),
        rows: rows.collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declared_run::RecordPlan;
    use crate::event::decode;
    use crate::generator::{EventClass, Generator, OutOfOrder};
    use crate::job::{CATALOGUE, catalogue_job};

    /// Every catalogue job's plan keeps what the catalogue's extraction
    /// keeps, with the same id, time and key, the same value where the job
    /// reads one, and for a per-event job the same ad and user.
    #[test]
    fn each_job_keeps_through_its_plan_what_the_catalogue_keeps() {
        let spec = WorkloadSpec {
            events: Some(4_000),
            keys: 500,
            malformed_fraction: 0.02,
            out_of_order: OutOfOrder {
                fraction: 0.1,
                ..OutOfOrder::default()
            },
            ..WorkloadSpec::default()
        };
        let campaigns = CampaignTable::new(spec.seed, spec.keys);
        for name in CATALOGUE {
            let job = catalogue_job(name).expect("in the catalogue");
            let declared = declared_form(&job, spec.seed, spec.keys);
            let plan = RecordPlan::new(&declared).unwrap_or_else(|e| panic!("{name}: {e}"));
            let generator = Generator::new(spec.clone(), job.input, 1_700_000_000_000).expect("valid");
            let (mut bytes, mut kept) = (Vec::new(), 0);
            for index in 0..generator.len() {
                let generated = generator.write_record(index, &mut bytes);
                let read = plan.interpret(&bytes);
                if let EventClass::Malformed(_) = generated.class {
                    assert!(read.is_err(), "{name}: a malformed record is a dead letter");
                    continue;
                }
                let event = decode(job.input, &bytes).expect("an event");
                let want = job.extract(&event, &campaigns);
                let got = read.expect("decodes");
                let seen = |k: &crate::window::Keyed| {
                    let value = job.aggregates.iter().any(|a| a.reads_value()).then_some(k.value);
                    let carried = job.window.is_per_event().then_some((k.ad_id, k.user_id));
                    (k.event_id, k.event_time_ms, k.key, value, carried)
                };
                assert_eq!(
                    got.as_ref().map(seen),
                    want.as_ref().map(seen),
                    "{name}, event {index}"
                );
                kept += usize::from(want.is_some());
            }
            assert!(kept > 1_000, "{name} keeps {kept}");
        }
    }
}
