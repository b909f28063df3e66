//! Rate profiles: when each event is scheduled to be sent.
//!
//! The schedule is open loop: event *i*'s send time is fixed by the profile
//! alone, never by when the producer managed to send earlier events, so a
//! slow system shows up as latency instead of hiding it (no coordinated
//! omission).

use serde::{Deserialize, Serialize};

use crate::invalid::Invalid;

/// How the offered rate changes over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RateProfile {
    /// The same rate throughout.
    Constant {
        /// Events per second.
        events_per_s: f64,
    },
    /// A rate for a while, then the next; the last holds until the end.
    Steps {
        /// The steps, in order.
        steps: Vec<RateStep>,
    },
    /// A rate changing linearly from one value to another, then holding.
    Ramp {
        /// Events per second at the start.
        from_per_s: f64,
        /// Events per second at the end of the ramp and after it.
        to_per_s: f64,
        /// How long the ramp lasts.
        duration_s: f64,
    },
    /// A base rate with a burst at the end of every period.
    Bursts {
        /// Events per second between bursts.
        base_per_s: f64,
        /// Events per second during a burst.
        burst_per_s: f64,
        /// Length of one period (base + burst).
        period_s: f64,
        /// Length of the burst within a period.
        burst_s: f64,
    },
}

/// One step of a [`RateProfile::Steps`] profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateStep {
    /// How long the step lasts.
    pub duration_s: f64,
    /// Events per second during the step.
    pub events_per_s: f64,
}

impl RateProfile {
    /// A constant rate.
    pub fn constant(events_per_s: f64) -> RateProfile {
        RateProfile::Constant { events_per_s }
    }

    /// Why the profile cannot be run, if it cannot.
    pub fn validate(&self) -> Result<(), Invalid> {
        let positive = |what: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Invalid(format!("{what} must be a positive number, not {v}")))
            }
        };
        match self {
            RateProfile::Constant { events_per_s } => positive("events_per_s", *events_per_s),
            RateProfile::Steps { steps } => {
                if steps.is_empty() {
                    return Err(Invalid("steps must not be empty".into()));
                }
                steps.iter().try_for_each(|s| {
                    positive("duration_s", s.duration_s)?;
                    positive("events_per_s", s.events_per_s)
                })
            }
            RateProfile::Ramp {
                from_per_s,
                to_per_s,
                duration_s,
            } => {
                positive("from_per_s", *from_per_s)?;
                positive("to_per_s", *to_per_s)?;
                positive("duration_s", *duration_s)
            }
            RateProfile::Bursts {
                base_per_s,
                burst_per_s,
                period_s,
                burst_s,
            } => {
                positive("base_per_s", *base_per_s)?;
                positive("burst_per_s", *burst_per_s)?;
                positive("period_s", *period_s)?;
                positive("burst_s", *burst_s)?;
                if burst_s >= period_s {
                    return Err(Invalid(format!(
                        "burst_s ({burst_s}) must be shorter than period_s ({period_s})"
                    )));
                }
                Ok(())
            }
        }
    }

    /// How many events are scheduled in the first `seconds` of a run.
    pub fn events_within(&self, seconds: f64) -> u64 {
        // Event i is due at send_time_s(i); count those strictly before `seconds`.
        let mut count = self.cumulative(seconds).ceil() as u64;
        while count > 0 && self.send_time_s(count - 1) >= seconds {
            count -= 1;
        }
        while self.send_time_s(count) < seconds {
            count += 1;
        }
        count
    }

    /// When event `index` is due, in microseconds after the run starts.
    pub fn send_time_us(&self, index: u64) -> u64 {
        (self.send_time_s(index) * 1e6).round() as u64
    }

    /// The number of events due by `t` seconds (a real number; event i is due
    /// when it reaches i).
    fn cumulative(&self, t: f64) -> f64 {
        match self {
            RateProfile::Constant { events_per_s } => events_per_s * t,
            RateProfile::Steps { steps } => {
                let mut done = 0.0;
                let mut start = 0.0;
                for (i, step) in steps.iter().enumerate() {
                    let last = i + 1 == steps.len();
                    if last || t < start + step.duration_s {
                        return done + step.events_per_s * (t - start);
                    }
                    done += step.events_per_s * step.duration_s;
                    start += step.duration_s;
                }
                done
            }
            RateProfile::Ramp {
                from_per_s: a,
                to_per_s: b,
                duration_s: d,
            } => {
                if t <= *d {
                    a * t + (b - a) * t * t / (2.0 * d)
                } else {
                    (a + b) * d / 2.0 + b * (t - d)
                }
            }
            RateProfile::Bursts {
                base_per_s,
                burst_per_s,
                period_s,
                burst_s,
            } => {
                let quiet = period_s - burst_s;
                let per_period = base_per_s * quiet + burst_per_s * burst_s;
                let periods = (t / period_s).floor();
                let within = t - periods * period_s;
                let partial = if within < quiet {
                    base_per_s * within
                } else {
                    base_per_s * quiet + burst_per_s * (within - quiet)
                };
                periods * per_period + partial
            }
        }
    }

    /// The inverse of `cumulative`: when the count reaches `index`.
    fn send_time_s(&self, index: u64) -> f64 {
        let n = index as f64;
        match self {
            RateProfile::Constant { events_per_s } => n / events_per_s,
            RateProfile::Steps { steps } => {
                let mut done = 0.0;
                let mut start = 0.0;
                for (i, step) in steps.iter().enumerate() {
                    let in_step = step.events_per_s * step.duration_s;
                    if i + 1 == steps.len() || n < done + in_step {
                        return start + (n - done) / step.events_per_s;
                    }
                    done += in_step;
                    start += step.duration_s;
                }
                start
            }
            RateProfile::Ramp {
                from_per_s: a,
                to_per_s: b,
                duration_s: d,
            } => {
                let in_ramp = (a + b) * d / 2.0;
                if n >= in_ramp {
                    return d + (n - in_ramp) / b;
                }
                if (b - a).abs() < f64::EPSILON {
                    return n / a;
                }
                // Solve k t^2 + a t - n = 0 with k = (b - a) / 2d.
                let k = (b - a) / (2.0 * d);
                (-a + (a * a + 4.0 * k * n).sqrt()) / (2.0 * k)
            }
            RateProfile::Bursts {
                base_per_s,
                burst_per_s,
                period_s,
                burst_s,
            } => {
                let quiet = period_s - burst_s;
                let in_quiet = base_per_s * quiet;
                let per_period = in_quiet + burst_per_s * burst_s;
                let periods = (n / per_period).floor();
                let rest = n - periods * per_period;
                let within = if rest < in_quiet {
                    rest / base_per_s
                } else {
                    quiet + (rest - in_quiet) / burst_per_s
                };
                periods * period_s + within
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles() -> Vec<RateProfile> {
        vec![
            RateProfile::constant(1000.0),
            RateProfile::Steps {
                steps: vec![
                    RateStep {
                        duration_s: 2.0,
                        events_per_s: 100.0,
                    },
                    RateStep {
                        duration_s: 1.0,
                        events_per_s: 1000.0,
                    },
                ],
            },
            RateProfile::Ramp {
                from_per_s: 100.0,
                to_per_s: 900.0,
                duration_s: 4.0,
            },
            RateProfile::Bursts {
                base_per_s: 100.0,
                burst_per_s: 2000.0,
                period_s: 2.0,
                burst_s: 0.5,
            },
        ]
    }

    #[test]
    fn send_times_never_go_backwards_and_invert_the_count() {
        for profile in profiles() {
            let mut previous = 0.0;
            for i in 0..5000 {
                let t = profile.send_time_s(i);
                assert!(t >= previous, "{profile:?}: event {i} at {t} before {previous}");
                let count = profile.cumulative(t);
                assert!(
                    (count - i as f64).abs() < 1e-6,
                    "{profile:?}: cumulative({t}) = {count}, not {i}"
                );
                previous = t;
            }
        }
    }

    #[test]
    fn counts_over_a_duration_match_the_profile() {
        assert_eq!(RateProfile::constant(1000.0).events_within(10.0), 10_000);
        let steps = &profiles()[1];
        assert_eq!(steps.events_within(3.0), 200 + 1000);
        let ramp = &profiles()[2];
        assert_eq!(ramp.events_within(4.0), 2000);
        let bursts = &profiles()[3];
        assert_eq!(bursts.events_within(4.0), 2 * (150 + 1000));
    }

    #[test]
    fn bursts_send_faster_inside_the_burst() {
        let bursts = &profiles()[3];
        // 150 events in the 1.5 s quiet part, then 2000/s.
        let gap_quiet = bursts.send_time_s(11) - bursts.send_time_s(10);
        let gap_burst = bursts.send_time_s(161) - bursts.send_time_s(160);
        assert!((gap_quiet - 0.01).abs() < 1e-9);
        assert!((gap_burst - 0.0005).abs() < 1e-9);
    }

    #[test]
    fn bad_profiles_are_refused() {
        assert!(RateProfile::constant(0.0).validate().is_err());
        assert!(RateProfile::constant(f64::NAN).validate().is_err());
        assert!(RateProfile::Steps { steps: vec![] }.validate().is_err());
        let b = RateProfile::Bursts {
            base_per_s: 1.0,
            burst_per_s: 2.0,
            period_s: 1.0,
            burst_s: 1.0,
        };
        assert!(b.validate().is_err());
        assert!(profiles().iter().all(|p| p.validate().is_ok()));
    }
}
