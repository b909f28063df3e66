//! A declared job's filter, derived fields and table compiled once, as
//! streambench's engines run them on every record: each field at its
//! position ([`Compiled`]), the table in the lookup its keys allow. The
//! oracle runs the same job through [`JobPlan::row`], the plain
//! interpreter, which judges this (the record plan's tests, and the
//! `decode_declared` fuzz target).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::compiled_expr::Compiled;
use crate::declared_oracle::JobPlan;
use crate::expr::{Type, Val};

/// A job's filter, derived fields and table, compiled once: fields at their
/// positions, the table in a dense vector or a hash map when it is joined
/// on whole numbers.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRow {
    filter: Option<Compiled>,
    derive: Vec<Compiled>,
    enrich: Option<(usize, Lookup)>,
}

/// The table's other columns by the value of the field joined on.
#[derive(Debug, Clone)]
enum Lookup {
    /// Joined on whole numbers from 0 that fill most of their range (ids):
    /// the rows at their number.
    Dense(Vec<Option<Vec<Val>>>),
    /// Joined on other whole numbers.
    Whole(HashMap<i64, Vec<Val>>),
    /// Joined on anything else.
    Any(BTreeMap<Val, Vec<Val>>),
}

impl Lookup {
    /// The lookup of `table`, joined on a field of type `on`.
    fn new(table: &BTreeMap<Val, Vec<Val>>, on: Type) -> Lookup {
        let whole: Option<HashMap<i64, Vec<Val>>> = table
            .iter()
            .map(|(k, v)| match k {
                Val::Int(n) => Some((*n, v.clone())),
                _ => None,
            })
            .collect();
        let Some(whole) = whole.filter(|_| on == Type::Int) else {
            return Lookup::Any(table.clone());
        };
        let (least, most) = (whole.keys().min().copied(), whole.keys().max().copied());
        match (least, most) {
            (Some(0..), Some(most)) if (most as u64) < 2 * whole.len() as u64 => {
                let mut dense = vec![None; most as usize + 1];
                for (n, row) in whole {
                    dense[n as usize] = Some(row);
                }
                Lookup::Dense(dense)
            }
            _ => Lookup::Whole(whole),
        }
    }

    /// The other columns of the row joined on `value`, if any.
    fn get(&self, value: &Val) -> Option<&Vec<Val>> {
        match (self, value) {
            (Lookup::Dense(rows), Val::Int(n)) => rows.get(usize::try_from(*n).ok()?)?.as_ref(),
            (Lookup::Whole(rows), Val::Int(n)) => rows.get(n),
            (Lookup::Any(rows), value) => rows.get(value),
            _ => None,
        }
    }
}

impl CompiledRow {
    /// `plan`'s filter, derived fields and table, compiled.
    pub(crate) fn new(plan: &JobPlan) -> Result<CompiledRow, String> {
        let filter = plan
            .filter
            .as_ref()
            .map(|f| Compiled::new(f, &plan.columns))
            .transpose()?;
        let derive = plan
            .derive
            .iter()
            .map(|d| Compiled::new(d, &plan.columns))
            .collect::<Result<_, _>>()?;
        let enrich = plan
            .enrich
            .as_ref()
            .map(|(on, table)| (*on, Lookup::new(table, plan.columns[*on].1)));
        Ok(CompiledRow {
            filter,
            derive,
            enrich,
        })
    }

    /// Makes `values` the row [`JobPlan::row`] gives, without resolving a
    /// name; false when the filter or the join drops the event.
    pub(crate) fn fill(&self, values: &mut Vec<Val>) -> bool {
        if let Some(filter) = &self.filter
            && filter.truth(values) != Some(true)
        {
            return false;
        }
        for expr in &self.derive {
            let Some(value) = expr.eval(values).map(Cow::into_owned) else {
                return false;
            };
            values.push(value);
        }
        if let Some((on, lookup)) = &self.enrich {
            let Some(added) = lookup.get(&values[*on]) else {
                return false;
            };
            values.extend(added.iter().cloned());
        }
        true
    }

    /// The positions of the event's own fields (below `fields`) it reads.
    pub(crate) fn reads(&self, fields: usize, read: &mut [bool]) {
        let mut mark = |expr: &Compiled| {
            expr.fields(&mut |at| {
                if at < fields {
                    read[at] = true;
                }
            })
        };
        self.filter.iter().chain(&self.derive).for_each(&mut mark);
        if let Some((on, _)) = self.enrich
            && on < fields
        {
            read[on] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_table_finds_what_the_plain_table_finds() {
        let table = |keys: &[Val]| -> BTreeMap<Val, Vec<Val>> {
            keys.iter()
                .map(|k| (k.clone(), vec![Val::Text(format!("{k:?}"))]))
                .collect()
        };
        let ids: Vec<Val> = [0, 1, 2, 4].map(Val::Int).to_vec();
        let sparse: Vec<Val> = [-5, 7, 1_000_000].map(Val::Int).to_vec();
        let text: Vec<Val> = ["a", "b"].map(|t| Val::Text(t.into())).to_vec();
        let probes: Vec<Val> = [-5, -1, 0, 3, 4, 7, 1_000_000, i64::MAX]
            .map(Val::Int)
            .into_iter()
            .chain([Val::Text("a".into()), Val::Float(4.0)])
            .collect();
        for (keys, on, form) in [
            (&ids, Type::Int, "dense"),
            (&sparse, Type::Int, "whole"),
            (&text, Type::Text, "any"),
        ] {
            let plain = table(keys);
            let lookup = Lookup::new(&plain, on);
            let chosen = match lookup {
                Lookup::Dense(_) => "dense",
                Lookup::Whole(_) => "whole",
                Lookup::Any(_) => "any",
            };
            assert_eq!(chosen, form);
            for probe in &probes {
                // An Int field never holds a float or text: probe what it holds.
                if on == Type::Int && !matches!(probe, Val::Int(_)) {
                    continue;
                }
                assert_eq!(lookup.get(probe), plain.get(probe), "{form} table, {probe:?}");
            }
        }
    }
}
