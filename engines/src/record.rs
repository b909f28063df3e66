//! From a Kafka record to what a job keeps of it: decoded, filtered, keyed;
//! or the reason it is a dead letter.

use std::sync::Arc;

use streambench_workloads::catalogue_declared::declared_form;
use streambench_workloads::declared_run::{Declared, RecordPlan};
use streambench_workloads::format::Format;
use streambench_workloads::job::JobSpec;
use streambench_workloads::key_names::KeyNames;
use streambench_workloads::window::Keyed;

use crate::error::Error;

/// What one record is to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interpreted {
    /// The job keeps it: its key, time and value.
    Kept(Keyed),
    /// A valid event the job's filter drops.
    Filtered,
    /// Not an event: why, for the dead-letter table.
    Malformed(String),
}

/// Turns records into what a job keeps, through its record plan (with the
/// job's enrichment table: for the catalogue's `ysb` and `alerts`, the
/// campaigns of the Yahoo benchmark, which a real deployment would hold in a
/// key-value store).
#[derive(Debug, Clone)]
pub struct Interpreter {
    job: JobSpec,
    /// The record plan, compiled once: a declared job's, or a catalogue
    /// job's declared form ([`record_plan`]).
    plan: Arc<RecordPlan>,
}

impl Interpreter {
    /// The interpreter of `job` on a workload of `seed` with `keys` keys;
    /// the error says why a declared job cannot run.
    pub fn new(job: JobSpec, seed: u64, keys: u64) -> Result<Interpreter, Error> {
        Interpreter::sharing(job, seed, keys, Format::Json, &KeyNames::shared())
    }

    /// [`Interpreter::new`] for records written in `format`, noting the
    /// keys it carries by id in `names`.
    pub fn sharing(
        job: JobSpec,
        seed: u64,
        keys: u64,
        format: Format,
        names: &Arc<KeyNames>,
    ) -> Result<Interpreter, Error> {
        let plan = record_plan(&job, seed, keys, format, names)?;
        Ok(Interpreter { job, plan })
    }

    /// The job this interprets for.
    pub fn job(&self) -> &JobSpec {
        &self.job
    }

    /// What the record with `payload` is to the job. Strings stay borrowed
    /// from the payload; nothing is allocated for a kept event.
    pub fn interpret(&self, payload: Option<&[u8]>) -> Interpreted {
        let Some(bytes) = payload else {
            return Interpreted::Malformed("record has no value".into());
        };
        match self.plan.interpret(bytes) {
            Ok(Some(kept)) => Interpreted::Kept(kept),
            Ok(None) => Interpreted::Filtered,
            Err(e) => Interpreted::Malformed(e.to_string()),
        }
    }
}

/// The compiled plan of `job`, if a suite declares it.
pub fn declared_plan(job: &JobSpec) -> Result<Option<Arc<RecordPlan>>, Error> {
    job.declared
        .as_deref()
        .map(|declared| compile(job, declared).map(Arc::new))
        .transpose()
}

/// The compiled plan records of `job` go through on a workload of `seed`
/// with `keys` keys, written in `format`: a declared job's own, or a
/// catalogue job's declared form, so that the catalogue's jobs take the path
/// a suite's own jobs take (and the oracle's catalogue extraction judges
/// it). The keys it carries by id are noted in `names`.
pub fn record_plan(
    job: &JobSpec,
    seed: u64,
    keys: u64,
    format: Format,
    names: &Arc<KeyNames>,
) -> Result<Arc<RecordPlan>, Error> {
    let plan = match &job.declared {
        Some(declared) => compile(job, declared),
        None => compile(job, &declared_form(job, seed, keys)),
    }?;
    Ok(Arc::new(plan.with_key_names(names.clone()).reading(format)))
}

/// `declared`'s plan for `job`; the error says why the engines cannot run it.
fn compile(job: &JobSpec, declared: &Declared) -> Result<RecordPlan, Error> {
    RecordPlan::new(declared).map_err(|e| Error::Config(format!("job {}: {e}", job.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use streambench_workloads::generator::{EventClass, Generator, WorkloadSpec};
    use streambench_workloads::job::{CATALOGUE, catalogue_job};

    #[test]
    fn every_generated_record_is_interpreted_as_its_class_says_in_every_format() {
        for name in CATALOGUE {
            let json = interpret_all(name, Format::Json);
            for format in [Format::Avro, Format::Protobuf] {
                let read = interpret_all(name, format);
                assert!(
                    read == json,
                    "{name}: what {format} records are to the job, and JSON records"
                );
            }
        }
    }

    /// What each record of a small workload of `format` is to catalogue job
    /// `name`, checked against its class: dead letters are `None`.
    fn interpret_all(name: &str, format: Format) -> Vec<Option<Interpreted>> {
        let spec = WorkloadSpec {
            events: Some(5_000),
            malformed_fraction: 0.05,
            format,
            ..WorkloadSpec::default()
        };
        let job = catalogue_job(name).expect("job");
        let generator = Generator::new(spec.clone(), job.input, 1_700_000_000_000).expect("spec");
        let interpreter = Interpreter::sharing(job, spec.seed, spec.keys, format, &KeyNames::shared())
            .expect("a catalogue job");
        let (mut kept, mut malformed) = (0, 0);
        let mut bytes = Vec::new();
        let read = (0..generator.len()).map(|i| {
            let generated = generator.write_record(i, &mut bytes);
            match (interpreter.interpret(Some(&bytes)), generated.class) {
                (Interpreted::Malformed(_), EventClass::Malformed(_)) => {
                    malformed += 1;
                    None
                }
                (Interpreted::Malformed(why), class) => panic!("{format}: {class:?} refused: {why}"),
                (_, EventClass::Malformed(kind)) => panic!("{format}: {kind:?} accepted"),
                (Interpreted::Kept(k), _) => {
                    assert_eq!(k.event_id, i);
                    kept += 1;
                    Some(Interpreted::Kept(k))
                }
                (Interpreted::Filtered, _) => Some(Interpreted::Filtered),
            }
        });
        let read = read.collect();
        assert!(
            kept > 0 && malformed > 0,
            "{name} in {format}: {kept} kept, {malformed} malformed"
        );
        read
    }

    #[test]
    fn a_record_without_a_value_is_a_dead_letter() {
        let interpreter =
            Interpreter::new(catalogue_job("tumbling").expect("job"), 1, 1).expect("a catalogue job");
        assert!(matches!(interpreter.interpret(None), Interpreted::Malformed(_)));
    }
}
