//! Floats aggregated exactly: a float field the schema gives `decimals`
//! (money has 2) is aggregated as whole numbers of its smallest unit, each
//! value rounded to its decimals, so that every engine's sums agree to the
//! last digit whatever order it adds in, as SQL's `DECIMAL` does. The
//! result columns hold the whole number divided back.

/// `x` in units of `10^-decimals`, rounded half away from zero (as Rust's
/// `round`, Flink's and Spark's `ROUND` do); none when it does not fit.
pub fn to_units(x: f64, decimals: u32) -> Option<i64> {
    let units = (x * scale(decimals)).round();
    // 2^63 is exact as a float; anything at or beyond it does not fit.
    (units.is_finite() && units.abs() < 9_223_372_036_854_775_808.0).then_some(units as i64)
}

/// `units` of `10^-decimals` as a float: what a result column holds.
pub fn from_units(units: i64, decimals: u32) -> f64 {
    units as f64 / scale(decimals)
}

/// A float read back from a result column, in units again: exact, since
/// it was written as `from_units` of whole units, below [`EXACT_UNITS`].
pub fn units_of(value: f64, decimals: u32) -> i64 {
    (value * scale(decimals)).round() as i64
}

/// Below this many units (5.6 trillion at 2 decimals) a column's float
/// converts back to its units exactly.
pub const EXACT_UNITS: i64 = 1 << 49;

/// The most decimals a float field, in a schema or derived, may take.
pub const MAX_DECIMALS: u32 = 9;

/// `10^decimals`, exact as a float for the at most [`MAX_DECIMALS`] a field takes.
pub fn scale(decimals: u32) -> f64 {
    10f64.powi(decimals as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_is_counted_in_cents() {
        assert_eq!(to_units(19.99, 2), Some(1999));
        assert_eq!(to_units(-0.125, 2), Some(-13), "half away from zero");
        assert_eq!(to_units(1.005, 2), Some(100), "1.005 is 1.00499999... as a float");
        assert_eq!(to_units(1e300, 2), None);
        assert_eq!(from_units(1999, 2), 19.99);
    }

    proptest! {
        #[test]
        fn a_column_read_back_gives_its_units(units in -EXACT_UNITS..EXACT_UNITS, decimals in 0u32..=9) {
            prop_assert_eq!(units_of(from_units(units, decimals), decimals), units);
        }
    }
}
