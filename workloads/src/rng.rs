//! The counter-based random numbers behind every generated event.
//!
//! Event *i*'s numbers are a pure function of (seed, i), so any process can
//! make any event without making the ones before it (nexmark-rs's approach).

/// SplitMix64: small, fast, and good enough for workload data (not for secrets).
#[derive(Debug, Clone)]
pub struct EventRng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl EventRng {
    /// The numbers of event `index` under `seed`, for one purpose (`stream`),
    /// so that adding a draw for one purpose never shifts another's.
    pub fn new(seed: u64, index: u64, stream: u64) -> EventRng {
        let mut rng = EventRng {
            state: seed ^ index.wrapping_mul(GOLDEN) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03),
        };
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An integer uniform in [0, n); `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// An integer uniform in [low, high], inclusive.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low) as u64 + 1) as i64
    }
}

/// Running shares of `weights`, ending at 1: a table to [`pick`] from.
pub(crate) fn cumulative(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut running = 0.0;
    weights
        .iter()
        .map(|w| {
            running += w / total;
            running
        })
        .collect()
}

/// Running shares of ranks 0 to `n - 1` weighted 1 / (k + 1)^exponent.
pub(crate) fn zipf_cdf(n: u64, exponent: f64) -> Vec<f64> {
    let weights: Vec<f64> = (1..=n).map(|k| 1.0 / (k as f64).powf(exponent)).collect();
    cumulative(&weights)
}

/// The position a uniform draw `u` in [0, 1) falls at in a table of
/// running shares.
pub(crate) fn pick(cdf: &[f64], u: f64) -> usize {
    cdf.partition_point(|&c| c <= u).min(cdf.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::EventRng;

    #[test]
    fn same_inputs_same_numbers_and_streams_differ() {
        let draw = |seed, i, stream| EventRng::new(seed, i, stream).next_u64();
        assert_eq!(draw(7, 3, 0), draw(7, 3, 0));
        assert_ne!(draw(7, 3, 0), draw(7, 4, 0));
        assert_ne!(draw(7, 3, 0), draw(8, 3, 0));
        assert_ne!(draw(7, 3, 0), draw(7, 3, 1));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut seen = [false; 10];
        for i in 0..1000 {
            let v = EventRng::new(1, i, 0).below(10);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
