//! Recovery time after a kill: from the restart until the lag is back to
//! where it was before the crash.

pub use streambench_reports::results::Recovery;

use super::sampler::LagSample;

/// A lag within this many seconds of its level before the kill counts as
/// back at that level: engines report their position every 250 ms and a
/// metrics line once a second, so readings of one steady lag differ by up
/// to about that much.
pub const TOLERANCE_S: f64 = 0.5;

/// How long the engine took to be back at its pre-crash lag (in seconds
/// behind, within [`TOLERANCE_S`]), from the lag samples of the run.
pub fn recovery(lag: &[LagSample], killed_at_s: f64, restarted_at_s: f64) -> Recovery {
    let before: Vec<&LagSample> = lag
        .iter()
        .filter(|s| s.t_s >= killed_at_s - 5.0 && s.t_s < killed_at_s)
        .collect();
    let lag_before_records = before.iter().map(|s| s.lag_records).max().unwrap_or(0);
    let lag_before_s = before.iter().map(|s| s.lag_s).fold(0.0, f64::max);
    let peak_lag_records = lag
        .iter()
        .filter(|s| s.t_s >= killed_at_s)
        .map(|s| s.lag_records)
        .max()
        .unwrap_or(0);
    let recovered_at_s = lag
        .iter()
        .find(|s| s.t_s > restarted_at_s && s.lag_s <= lag_before_s + TOLERANCE_S)
        .map(|s| s.t_s);
    Recovery {
        killed_at_s,
        restarted_at_s,
        lag_before_records,
        peak_lag_records,
        recovered_at_s,
        recovery_s: recovered_at_s.map(|t| t - restarted_at_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(lags: &[i64]) -> Vec<LagSample> {
        lags.iter()
            .enumerate()
            .map(|(t, &lag_records)| LagSample {
                t_s: t as f64,
                lag_records,
                // At 100 records/s.
                lag_s: lag_records as f64 / 100.0,
            })
            .collect()
    }

    #[test]
    fn recovery_ends_when_the_lag_is_back_to_its_level_before_the_kill() {
        // Killed at 5 s, restarted at 8 s, caught up at 11 s.
        let lag = samples(&[
            0, 100, 120, 90, 110, 1_000, 2_000, 3_000, 3_500, 2_000, 500, 115, 100,
        ]);
        let r = recovery(&lag, 4.5, 8.0);
        assert_eq!(r.lag_before_records, 120);
        assert_eq!(r.peak_lag_records, 3_500);
        assert_eq!(r.recovered_at_s, Some(11.0));
        assert_eq!(r.recovery_s, Some(3.0));
    }

    #[test]
    fn an_engine_that_never_catches_up_has_no_recovery_time() {
        let lag = samples(&[10, 10, 10, 500, 900, 1_300, 1_700]);
        let r = recovery(&lag, 2.5, 4.0);
        assert_eq!(r.recovered_at_s, None);
        assert_eq!(r.recovery_s, None);
    }
}
