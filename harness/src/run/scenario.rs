//! A suite's matrix expanded into scenarios: one engine run each, with its
//! own topic, tables and checkpoint directory.

pub use streambench_reports::scenario::Scenario;
use streambench_workloads::generator::WorkloadSpec;
use streambench_workloads::suite::{DeliveryMode, EngineName, Suite};

/// Every scenario of `suite`, in a stable order: job, engine, delivery,
/// rate, interval, fault, repetition.
pub fn expand(suite: &Suite) -> Result<Vec<Scenario>, String> {
    let m = &suite.matrix;
    let rates = if m.rates.is_empty() {
        vec![suite.workload.rate.clone()]
    } else {
        m.rates.clone()
    };
    let mut scenarios = Vec::new();
    for job in suite.job_specs()? {
        for &engine in &m.engines {
            let intervals: Vec<(Option<u64>, Option<u64>)> = if engine.is_triggered() {
                m.trigger_interval_ms.iter().map(|t| (None, Some(*t))).collect()
            } else {
                m.checkpoint_interval_ms.iter().map(|c| (*c, None)).collect()
            };
            for &delivery in &m.delivery {
                for rate in &rates {
                    for &(checkpoint_interval_ms, trigger_interval_ms) in &intervals {
                        if delivery == DeliveryMode::Transactional
                            && engine == EngineName::Continuous
                            && checkpoint_interval_ms.is_none()
                        {
                            // Transactional delivery commits per checkpoint: no checkpoints, no scenario.
                            continue;
                        }
                        if !engine.offers(delivery) {
                            continue;
                        }
                        for fault in &m.faults {
                            for repetition in 1..=m.repetitions {
                                scenarios.push(Scenario {
                                    number: scenarios.len() + 1,
                                    job: job.clone(),
                                    engine,
                                    delivery,
                                    workload: WorkloadSpec {
                                        rate: rate.clone(),
                                        ..suite.workload.clone()
                                    },
                                    checkpoint_interval_ms,
                                    trigger_interval_ms,
                                    fault: fault.clone(),
                                    repetition,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(scenarios)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quickstart_matrix_is_two_jobs_on_two_engines() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../workloads/suites/quickstart.toml");
        let suite = Suite::from_file(std::path::Path::new(path)).expect("quickstart");
        let scenarios = expand(&suite).expect("expand");
        let labels: Vec<String> = scenarios.iter().map(Scenario::label).collect();
        assert_eq!(
            labels,
            vec![
                "ysb continuous upsert 2000/s",
                "ysb microbatch upsert 2000/s",
                "tumbling continuous upsert 2000/s",
                "tumbling microbatch upsert 2000/s",
            ]
        );
        assert_eq!(scenarios[0].checkpoint_interval_ms, Some(10_000));
        assert_eq!(scenarios[1].trigger_interval_ms, Some(1_000));
        assert!(scenarios.iter().enumerate().all(|(i, s)| s.number == i + 1));
    }

    #[test]
    fn every_list_multiplies_and_transactional_needs_checkpoints() {
        let suite = Suite::parse(
            r#"
            name = "m"
            [workload]
            duration_s = 1
            [matrix]
            jobs = ["tumbling"]
            engines = ["continuous", "microbatch"]
            delivery = ["upsert", "transactional"]
            rates = [{ kind = "constant", events_per_s = 100 }, { kind = "constant", events_per_s = 200 }]
            checkpoint_interval_ms = [1000]
            trigger_interval_ms = [500, 1000]
            repetitions = 3
            "#,
            "inline",
        )
        .expect("suite");
        // continuous: 2 deliveries x 2 rates x 1 interval; micro-batch: 2 x 2 x 2; all x 3.
        assert_eq!(expand(&suite).expect("expand").len(), (4 + 8) * 3);
    }
}
