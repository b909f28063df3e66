//! Recovery time after a kill: from the restart until the lag is back to
//! where it was before the crash.

pub use streambench_reports::results::Recovery;

use super::sampler::LagSample;

/// A lag within this many seconds of its level before the kill counts as
/// back at that level: engines report their position every 250 ms and a
/// metrics line once a second, so readings of one steady lag differ by up
/// to about that much.
pub const TOLERANCE_S: f64 = 0.5;

/// How far back before a kill the lag is read for its level.
const LEVEL_WINDOW_S: f64 = 5.0;

/// The lag an engine must be back at to have recovered.
#[derive(Debug, Clone, Copy, Default)]
struct Level {
    records: i64,
    seconds: f64,
}

/// How long the engine took, after each of a run's interruptions (when it
/// went down and when it was back, in order), to be back at its lag before
/// that interruption (in seconds behind, within [`TOLERANCE_S`]).
///
/// Each recovery is looked for only before the next interruption, so that
/// in a storm of kills one kill is never credited with a catch-up that came
/// after the next. The level to return to is the highest lag in the 5 s
/// before the kill, read only since the engine last recovered: a kill that
/// strikes before the engine is back from the previous one keeps that
/// one's level, not the raised lag of its restart.
pub fn recoveries(lag: &[LagSample], moments: &[(f64, f64)]) -> Vec<Recovery> {
    let mut out: Vec<Recovery> = Vec::with_capacity(moments.len());
    let mut level = Level::default();
    for (i, &(killed_at_s, restarted_at_s)) in moments.iter().enumerate() {
        let settled_from = match out.last() {
            None => Some(f64::NEG_INFINITY),
            Some(previous) => previous.recovered_at_s,
        };
        if let Some(from) = settled_from {
            level = level_before(lag, from.max(killed_at_s - LEVEL_WINDOW_S), killed_at_s).unwrap_or(level);
        }
        let until_s = moments.get(i + 1).map_or(f64::INFINITY, |next| next.0);
        out.push(recovery_until(lag, level, (killed_at_s, restarted_at_s), until_s));
    }
    out
}

/// The highest lag sampled in `[from_s, to_s)`, if any sample falls there.
fn level_before(lag: &[LagSample], from_s: f64, to_s: f64) -> Option<Level> {
    let before: Vec<&LagSample> = lag.iter().filter(|s| s.t_s >= from_s && s.t_s < to_s).collect();
    (!before.is_empty()).then(|| Level {
        records: before.iter().map(|s| s.lag_records).max().unwrap_or(0),
        seconds: before.iter().map(|s| s.lag_s).fold(0.0, f64::max),
    })
}

/// One interruption's recovery to `level`, looked for before `until_s`.
fn recovery_until(
    lag: &[LagSample],
    level: Level,
    (killed_at_s, restarted_at_s): (f64, f64),
    until_s: f64,
) -> Recovery {
    let after: Vec<&LagSample> = lag
        .iter()
        .filter(|s| s.t_s >= killed_at_s && s.t_s < until_s)
        .collect();
    let recovered_at_s = after
        .iter()
        .find(|s| s.t_s > restarted_at_s && s.lag_s <= level.seconds + TOLERANCE_S)
        .map(|s| s.t_s);
    Recovery {
        killed_at_s,
        restarted_at_s,
        lag_before_records: level.records,
        peak_lag_records: after.iter().map(|s| s.lag_records).max().unwrap_or(0),
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
        let r = &recoveries(&lag, &[(4.5, 8.0)])[0];
        assert_eq!(r.lag_before_records, 120);
        assert_eq!(r.peak_lag_records, 3_500);
        assert_eq!(r.recovered_at_s, Some(11.0));
        assert_eq!(r.recovery_s, Some(3.0));
    }

    #[test]
    fn an_engine_that_never_catches_up_has_no_recovery_time() {
        let lag = samples(&[10, 10, 10, 500, 900, 1_300, 1_700]);
        let r = &recoveries(&lag, &[(2.5, 4.0)])[0];
        assert_eq!(r.recovered_at_s, None);
        assert_eq!(r.recovery_s, None);
    }

    #[test]
    fn a_kill_before_the_engine_is_back_keeps_the_level_and_hides_no_later_catch_up() {
        // Killed at 2.5 s and restarted at 4 s; killed again at 5.5 s, before
        // it was back, restarted at 7 s; back at its level of 100 at 10 s.
        let lag = samples(&[
            100, 100, 100, 800, 1_500, 1_200, 1_900, 2_500, 1_000, 400, 100, 100,
        ]);
        let r = recoveries(&lag, &[(2.5, 4.0), (5.5, 7.0)]);
        // The first kill's catch-up came only after the second kill.
        assert_eq!(r[0].recovered_at_s, None);
        assert_eq!(r[0].peak_lag_records, 1_500);
        // The second is judged against the level before the first, not
        // against the raised lag at 3 to 5 s.
        assert_eq!(r[1].lag_before_records, 100);
        assert_eq!(r[1].recovered_at_s, Some(10.0));
        assert_eq!(r[1].peak_lag_records, 2_500);
    }

    #[test]
    fn after_a_recovery_the_next_level_is_read_afresh() {
        // Back at 5 s from the first kill; the lag then settles at 300 (a
        // higher rate) before the second kill at 9.5 s.
        let lag = samples(&[
            100, 100, 900, 600, 200, 100, 300, 300, 300, 300, 2_000, 1_000, 300,
        ]);
        let r = recoveries(&lag, &[(1.5, 3.0), (9.5, 10.5)]);
        assert_eq!(r[0].recovered_at_s, Some(5.0));
        assert_eq!(r[1].lag_before_records, 300);
        assert_eq!(r[1].recovered_at_s, Some(12.0));
    }
}
