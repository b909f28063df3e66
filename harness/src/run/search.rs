//! Maximum sustainable throughput, as Karimov et al. (ICDE 2018) define it:
//! the highest offered rate at which the engine keeps up over the whole
//! run, that is, its lag and latency stay bounded instead of growing. Each
//! rate tried is a trial run; [`judge`] says whether it was sustained and
//! [`search`] chooses the rates.

pub use streambench_reports::results::{SearchOutcome, Trial, Verdict};
use streambench_workloads::suite::RateSearch;

use super::latency::LatencySecond;
use super::sampler::LagSample;

/// What one trial showed, as far as sustainability goes.
#[derive(Debug, Clone, Default)]
pub struct TrialObservation {
    /// The rate the generator was asked for.
    pub offered_per_s: f64,
    /// The rate it achieved.
    pub achieved_per_s: f64,
    /// Lag over the run.
    pub lag: Vec<LagSample>,
    /// Latency of the windows emitted each second.
    pub latency: Vec<LatencySecond>,
    /// The measurement period, seconds from the generator's start.
    pub measure_from_s: f64,
    /// Its end: when the generator's last event was due.
    pub measure_to_s: f64,
    /// Whether the results equalled the oracle.
    pub correct: bool,
}

/// Lag or latency growing faster than this, in seconds per second over the
/// measurement period, is not bounded: the engine falls behind by more than
/// 5 % of the time that passes (so the search may rate an engine up to 5 %
/// above what it truly sustains; the precision of the search is coarser).
pub const MAX_GROWTH_S_PER_S: f64 = 0.05;
/// Lag in seconds at the end of the measurement period above this is not
/// bounded either, however it got there.
pub const MAX_FINAL_LAG_S: f64 = 10.0;
/// A generator below this share of the offered rate makes the trial the
/// harness's limit, not the engine's.
pub const MIN_GENERATOR_SHARE: f64 = 0.95;

/// Judges one trial.
pub fn judge(trial: &TrialObservation) -> Verdict {
    if trial.achieved_per_s < trial.offered_per_s * MIN_GENERATOR_SHARE {
        return Verdict::GeneratorBound {
            achieved_per_s: trial.achieved_per_s,
        };
    }
    if !trial.correct {
        return Verdict::NotSustained {
            reason: "its results differ from the oracle".into(),
        };
    }
    let within = |t: f64| t >= trial.measure_from_s && t <= trial.measure_to_s;
    let lag: Vec<(f64, f64)> = trial
        .lag
        .iter()
        .filter(|s| within(s.t_s))
        .map(|s| (s.t_s, s.lag_s))
        .collect();
    if lag.len() < 3 {
        return Verdict::NotSustained {
            reason: format!("only {} lag samples in the measurement period", lag.len()),
        };
    }
    let lag_growth = slope(&lag);
    if lag_growth > MAX_GROWTH_S_PER_S {
        return Verdict::NotSustained {
            reason: format!("lag grew by {lag_growth:.3} s per second"),
        };
    }
    let tail = &lag[lag.len() - 3..];
    let final_lag = tail.iter().map(|(_, l)| l).sum::<f64>() / tail.len() as f64;
    if final_lag > MAX_FINAL_LAG_S {
        return Verdict::NotSustained {
            reason: format!("{final_lag:.1} s behind at the end"),
        };
    }
    let latency: Vec<(f64, f64)> = trial
        .latency
        .iter()
        .filter(|s| within(s.t_s as f64))
        .filter_map(|s| s.p99_ms.map(|p| (s.t_s as f64, p / 1000.0)))
        .collect();
    if latency.len() >= 3 {
        let latency_growth = slope(&latency);
        if latency_growth > MAX_GROWTH_S_PER_S {
            return Verdict::NotSustained {
                reason: format!("p99 latency grew by {latency_growth:.3} s per second"),
            };
        }
    }
    Verdict::Sustained
}

/// The least-squares slope of `points` (0 for fewer than two distinct x).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|(x, _)| x).sum::<f64>() / n;
    let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / n;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for (x, y) in points {
        covariance += (x - mean_x) * (y - mean_y);
        variance += (x - mean_x) * (x - mean_x);
    }
    if variance == 0.0 {
        0.0
    } else {
        covariance / variance
    }
}

/// Searches for the highest sustained rate: doubling from `spec.from_per_s`
/// while trials are sustained (up to `spec.to_per_s`), halving while they
/// are not, then bisecting (geometrically) until the bounds are within
/// `spec.precision`. `trial` runs one rate and returns its scenario number
/// and verdict.
pub async fn search(
    spec: &RateSearch,
    mut trial: impl AsyncFnMut(f64) -> anyhow::Result<(usize, Verdict)>,
) -> anyhow::Result<SearchOutcome> {
    let mut outcome = SearchOutcome::default();
    let lowest = spec.from_per_s / 64.0;
    let mut rate = spec.from_per_s;
    for _ in 0..spec.max_trials {
        let (scenario, verdict) = trial(rate).await?;
        outcome.trials.push(Trial {
            offered_per_s: rate,
            scenario,
            verdict: verdict.clone(),
        });
        match verdict {
            Verdict::Sustained => outcome.sustained_per_s = Some(rate),
            Verdict::NotSustained { .. } => outcome.not_sustained_per_s = Some(rate),
            Verdict::GeneratorBound { .. } => {
                // Nothing at or above this rate can be judged here.
                outcome.generator_bound = true;
                outcome.not_sustained_per_s = Some(rate);
            }
        }
        rate = match (outcome.sustained_per_s, outcome.not_sustained_per_s) {
            (Some(low), None) if low >= spec.to_per_s => break,
            (Some(low), None) => (low * 2.0).min(spec.to_per_s),
            (None, Some(high)) if high / 2.0 < lowest => break,
            (None, Some(high)) => high / 2.0,
            (Some(low), Some(high)) if high <= low * (1.0 + spec.precision) => break,
            (Some(low), Some(high)) => (low * high).sqrt().round(),
            (None, None) => unreachable!("a trial was just recorded"),
        };
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that processes `capacity` events/s at most: below it, lag
    /// hovers around half a second; above it, the backlog grows by the
    /// excess each second. Latency follows lag. `jitter` seeds the noise.
    fn simulated_trial(offered: f64, capacity: f64, jitter: u64) -> TrialObservation {
        let mut noise = jitter.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next_noise = || {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            (noise % 1000) as f64 / 1000.0 * 0.4
        };
        let mut backlog = 0.0f64;
        let mut lag = Vec::new();
        let mut latency = Vec::new();
        for t in 0..60u32 {
            backlog = (backlog + offered - capacity).max(0.0);
            let lag_s = backlog / capacity + 0.3 + next_noise();
            lag.push(LagSample {
                t_s: t as f64,
                lag_records: (lag_s * offered) as i64,
                lag_s,
            });
            if t % 10 == 9 {
                latency.push(LatencySecond {
                    t_s: t,
                    count: 100,
                    p50_ms: Some(5_000.0 + lag_s * 1000.0),
                    p99_ms: Some(5_100.0 + lag_s * 1000.0),
                    max_ms: Some(5_200.0 + lag_s * 1000.0),
                });
            }
        }
        TrialObservation {
            offered_per_s: offered,
            achieved_per_s: offered,
            lag,
            latency,
            measure_from_s: 10.0,
            measure_to_s: 59.0,
            correct: true,
        }
    }

    fn spec(from: f64, to: f64) -> RateSearch {
        RateSearch {
            from_per_s: from,
            to_per_s: to,
            precision: 0.1,
            max_trials: 12,
        }
    }

    async fn search_simulated(spec: &RateSearch, capacity: f64) -> SearchOutcome {
        let mut runs = 0;
        search(spec, async |rate| {
            runs += 1;
            Ok((runs, judge(&simulated_trial(rate, capacity, runs as u64))))
        })
        .await
        .expect("search")
    }

    #[tokio::test]
    async fn the_search_finds_the_simulated_capacity_within_its_precision() {
        for capacity in [15_000.0, 120_000.0, 333_000.0] {
            let outcome = search_simulated(&spec(20_000.0, 1_000_000.0), capacity).await;
            let found = outcome.sustained_per_s.expect("a sustained rate");
            let above = outcome.not_sustained_per_s.expect("a rate not sustained");
            // Up to 5 % over capacity grows slower than the growth bound.
            assert!(
                found >= capacity / 1.1 && found <= capacity * 1.05,
                "capacity {capacity}: found {found} ({outcome:?})"
            );
            assert!(above > capacity && above <= found * 1.1 + 1.0, "{outcome:?}");
            assert!(!outcome.generator_bound);
        }
    }

    #[tokio::test]
    async fn a_search_stops_at_its_ceiling_and_at_a_generator_that_cannot_keep_up() {
        let outcome = search_simulated(&spec(20_000.0, 50_000.0), 1e9).await;
        assert_eq!(outcome.sustained_per_s, Some(50_000.0));
        assert_eq!(outcome.not_sustained_per_s, None);
        assert_eq!(
            outcome.trials.iter().map(|t| t.offered_per_s).collect::<Vec<_>>(),
            vec![20_000.0, 40_000.0, 50_000.0]
        );

        let outcome = search(&spec(20_000.0, 1e6), async |rate| {
            let mut trial = simulated_trial(rate, 1e9, 1);
            trial.achieved_per_s = rate.min(70_000.0);
            Ok((1, judge(&trial)))
        })
        .await
        .expect("search");
        assert!(outcome.generator_bound);
        assert_eq!(outcome.not_sustained_per_s, Some(80_000.0));
        assert!(
            outcome
                .sustained_per_s
                .is_some_and(|r| (40_000.0..80_000.0).contains(&r))
        );
    }

    #[test]
    fn growing_lag_or_latency_and_wrong_results_are_not_sustained() {
        let steady = simulated_trial(10_000.0, 20_000.0, 3);
        assert_eq!(judge(&steady), Verdict::Sustained);

        let overloaded = simulated_trial(30_000.0, 20_000.0, 3);
        assert!(
            matches!(judge(&overloaded), Verdict::NotSustained { reason } if reason.contains("lag grew"))
        );

        let mut slow_sink = steady.clone();
        for (i, second) in slow_sink.latency.iter_mut().enumerate() {
            second.p99_ms = Some(5_000.0 + 2_000.0 * i as f64);
        }
        assert!(matches!(judge(&slow_sink), Verdict::NotSustained { reason } if reason.contains("latency")));

        let mut wrong = steady.clone();
        wrong.correct = false;
        assert!(matches!(judge(&wrong), Verdict::NotSustained { .. }));

        let mut stalled = steady;
        for sample in stalled.lag.iter_mut().skip(50) {
            sample.lag_s = 30.0;
        }
        assert!(matches!(judge(&stalled), Verdict::NotSustained { .. }));
    }
}
