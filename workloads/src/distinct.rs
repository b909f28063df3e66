//! Distinct counts: the values a window has seen of each field a job counts
//! the distinct values of (`count_distinct(card)`). A whole number is kept
//! as itself, a float with decimals as its units, and text or a boolean as
//! its [`key_id`](crate::key_names::key_id): two different values with one
//! id would count once, and the check (which counts the values themselves)
//! would find the difference.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::window::{Keyed, MAX_VALUE_FIELDS};

/// Some of a job's value fields (0 for [`Keyed::value`], 1 on for
/// [`Keyed::more`]), such as those it counts the distinct values of: a bit
/// per field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldSet(u8);

impl FieldSet {
    /// No field.
    pub const NONE: FieldSet = FieldSet(0);

    /// Every field.
    pub const ALL: FieldSet = FieldSet((1 << MAX_VALUE_FIELDS) - 1);

    /// The fields `fields`.
    pub fn of(fields: impl IntoIterator<Item = usize>) -> FieldSet {
        let mut bits = 0u8;
        for field in fields {
            assert!(
                field < MAX_VALUE_FIELDS,
                "value field {field} of {MAX_VALUE_FIELDS}"
            );
            bits |= 1 << field;
        }
        FieldSet(bits)
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Whether it holds `field`.
    pub fn contains(&self, field: usize) -> bool {
        self.0 & (1 << field) != 0
    }

    /// The fields it holds, in order.
    pub fn fields(&self) -> impl Iterator<Item = usize> + '_ {
        (0..MAX_VALUE_FIELDS).filter(|field| self.contains(*field))
    }
}

/// The distinct values of one field seen in a window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistinctValues {
    /// Which value field ([`FieldSet`]).
    pub field: usize,
    /// Its values so far.
    pub values: BTreeSet<i64>,
}

/// The value of field `field` (0 for [`Keyed::value`]) of `event`.
pub fn field_value(event: &Keyed, field: usize) -> i64 {
    match field {
        0 => event.value,
        _ => event.more[field - 1],
    }
}

/// The distinct values of `fields` in a window of the one event `event`.
pub fn of_event(event: &Keyed, fields: FieldSet) -> Vec<DistinctValues> {
    fields
        .fields()
        .map(|field| DistinctValues {
            field,
            values: BTreeSet::from([field_value(event, field)]),
        })
        .collect()
}

/// Adds `theirs` to `mine` (one window's sets merged into another's: both
/// count the same fields, or one counts none).
pub fn merge(mine: &mut Vec<DistinctValues>, theirs: &[DistinctValues]) {
    if mine.is_empty() {
        mine.extend_from_slice(theirs);
        return;
    }
    for (set, other) in mine.iter_mut().zip(theirs) {
        debug_assert_eq!(set.field, other.field);
        set.values.extend(other.values.iter().copied());
    }
}

/// How many distinct values of `field` `sets` hold (0 if it is not counted).
pub fn count(sets: &[DistinctValues], field: usize) -> i64 {
    sets.iter()
        .find(|set| set.field == field)
        .map_or(0, |set| set.values.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(value: i64, more: [i64; 3]) -> Keyed {
        Keyed {
            value,
            more,
            ..Keyed::default()
        }
    }

    #[test]
    fn fields_are_kept_in_order_and_counted_apart() {
        let fields = FieldSet::of([2, 0]);
        assert_eq!(fields.fields().collect::<Vec<_>>(), vec![0, 2]);
        assert!(FieldSet::NONE.is_empty() && !fields.is_empty());
        let mut sets = of_event(&event(5, [1, 7, 0]), fields);
        merge(&mut sets, &of_event(&event(5, [1, 8, 0]), fields));
        merge(&mut sets, &of_event(&event(6, [1, 8, 0]), fields));
        assert_eq!((count(&sets, 0), count(&sets, 2), count(&sets, 1)), (2, 2, 0));
    }

    #[test]
    fn a_window_counting_none_takes_the_others_sets() {
        let fields = FieldSet::of([1]);
        let mut none = Vec::new();
        merge(&mut none, &of_event(&event(0, [3, 0, 0]), fields));
        assert_eq!(count(&none, 1), 1);
    }
}
