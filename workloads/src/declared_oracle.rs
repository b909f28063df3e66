//! The exact expected windows of a declared job, computed from the
//! generator's events through the job's plan: its filter, derived fields,
//! enrichment, key, window and aggregates. Events are sorted into on time
//! and late as the catalogue's oracle does ([`crate::oracle`]): late events
//! and out-of-order ones lagging by the watermark delay or more are kept
//! apart, for the check to judge against the engine's side output.
//! Tumbling and sliding windows for now; sessions and per-event rules come
//! with the engines that run declared jobs.

use std::collections::{BTreeMap, BTreeSet};

use crate::decimals::{from_units, scale, to_units};
use crate::declared_job::{AggregateCall, DeclaredJob, Function};
use crate::event_writer::EventWriter;
use crate::expr::{Columns, Expr, Type, Val, parse};
use crate::generator::{EventClass, Generator};
use crate::schema::EventSchema;
use crate::window::WindowSpec;

/// A declared job compiled against its schema: expressions parsed and
/// every name resolved to a position in the row.
#[derive(Debug, Clone)]
pub struct JobPlan {
    /// The row's columns: the schema's fields, the derived ones, the joined ones.
    pub(crate) columns: Columns,
    pub(crate) filter: Option<Expr>,
    pub(crate) derive: Vec<Expr>,
    /// The field joined on, and the table's other columns by its value.
    pub(crate) enrich: Option<(usize, BTreeMap<Val, Vec<Val>>)>,
    key: Vec<usize>,
    /// Each aggregate, with the position and type of the field it reads.
    calls: Vec<(AggregateCall, Option<(usize, Type)>)>,
    /// The decimals of each schema field and derived field that has them (a
    /// float aggregated exactly, see [`crate::decimals`]), by position.
    decimals: Vec<Option<u32>>,
    window: WindowSpec,
}

/// A window of a key: the key's values, start and end (ms).
pub type WindowRow = (Vec<Val>, i64, i64);

/// What a declared job should write, and what the check needs beside.
#[derive(Debug, Clone, Default)]
pub struct DeclaredExpected {
    /// Each window of the kept on-time events: its aggregates in the job's
    /// order (none where SQL gives NULL, such as a sum that overflowed).
    pub windows: BTreeMap<WindowRow, Vec<Option<Val>>>,
    /// Ids of the kept events that may be late.
    pub late: BTreeSet<u64>,
    /// Records that are not events: the dead letters.
    pub malformed: u64,
    /// Events the filter or the join dropped.
    pub filtered: u64,
}

impl JobPlan {
    /// Compiles `job` over `schema`; the error names the part of the job.
    pub fn new(job: &DeclaredJob, schema: &EventSchema) -> Result<JobPlan, String> {
        let schemas = BTreeMap::from([(job.input.clone(), schema.clone())]);
        let calls = job.check(&schemas)?;
        let mut columns: Columns = schema
            .fields
            .iter()
            .map(|f| (f.name.clone(), Type::of(f.kind)))
            .collect();
        let parsed = |text: &str| parse(text).map_err(|e| e.to_string());
        let filter = job.filter.as_deref().map(parsed).transpose()?;
        let mut derive = Vec::new();
        for derived in &job.derive {
            let expr = parsed(&derived.expr)?;
            columns.push((derived.name.clone(), expr.type_in(&columns)?));
            derive.push(expr);
        }
        let position = |columns: &Columns, name: &str| columns.iter().position(|(n, _)| n == name);
        let enrich = match &job.enrich {
            None => None,
            Some(table) => {
                let on = position(&columns, &table.on).ok_or("enrich: checked")?;
                let added: Vec<String> = table.rows[0]
                    .keys()
                    .filter(|c| **c != table.on)
                    .cloned()
                    .collect();
                let mut by_value = BTreeMap::new();
                for row in &table.rows {
                    let values = added.iter().map(|c| row[c].value()).collect();
                    by_value.insert(row[&table.on].value(), values);
                }
                for name in &added {
                    columns.push((name.clone(), table.rows[0][name].value().kind()));
                }
                Some((on, by_value))
            }
        };
        let key = job
            .key
            .iter()
            .map(|k| position(&columns, k).ok_or("key: checked"))
            .collect::<Result<_, _>>()?;
        let calls = calls
            .into_iter()
            .map(|call| {
                let at = call.field.as_deref().and_then(|f| position(&columns, f));
                (call, at.map(|i| (i, columns[i].1)))
            })
            .collect();
        Ok(JobPlan {
            columns,
            filter,
            derive,
            enrich,
            key,
            calls,
            decimals: (schema.fields.iter().map(|f| f.decimals))
                .chain(job.derive.iter().map(|d| d.decimals))
                .collect(),
            window: job.window,
        })
    }

    /// The position and type of column `name` in the job's rows: a field,
    /// a derived field or a joined column.
    pub fn column(&self, name: &str) -> Option<(usize, Type)> {
        let at = self.columns.iter().position(|(n, _)| n == name)?;
        Some((at, self.columns[at].1))
    }

    /// The decimals of the float at position `at`, if it is a schema field
    /// or a derived field that has them.
    pub fn decimals(&self, at: usize) -> Option<u32> {
        self.decimals.get(at).copied().flatten()
    }

    /// The job's aggregates, checked and parsed, in output order.
    pub fn calls(&self) -> impl Iterator<Item = &AggregateCall> + '_ {
        self.calls.iter().map(|(call, _)| call)
    }

    /// The row the job goes on with from an event's `values`: derived and
    /// joined; none when the filter or the join drops it.
    pub fn row(&self, mut values: Vec<Val>) -> Option<Vec<Val>> {
        if let Some(filter) = &self.filter
            && filter.eval(&self.columns, &values) != Some(Val::Bool(true))
        {
            return None;
        }
        for expr in &self.derive {
            let value = expr.eval(&self.columns, &values)?;
            values.push(value);
        }
        if let Some((on, table)) = &self.enrich {
            values.extend(table.get(&values[*on])?.iter().cloned());
        }
        Some(values)
    }

    /// The expected windows of the job over every event `generator` makes,
    /// whose values `writer` (the same schema and workload) gives; for
    /// tumbling and sliding windows (the catalogue's oracle judges the rest).
    pub fn expected(
        &self,
        generator: &Generator,
        writer: &EventWriter,
        watermark_delay_ms: i64,
    ) -> Result<DeclaredExpected, String> {
        if !matches!(
            self.window,
            WindowSpec::Tumbling { .. } | WindowSpec::Sliding { .. }
        ) {
            return Err("window: this oracle has tumbling and sliding windows".into());
        }
        let mut expected = DeclaredExpected::default();
        let mut windows: BTreeMap<WindowRow, Vec<Accumulator>> = BTreeMap::new();
        for index in 0..generator.len() {
            let generated = generator.generate(index);
            if let EventClass::Malformed(_) = generated.class {
                expected.malformed += 1;
                continue;
            }
            let time = generated.event.event_time_ms();
            let key = generated.event.drawn_key();
            let Some(row) = self.row(writer.values(index, key, time)) else {
                expected.filtered += 1;
                continue;
            };
            let late = generated.class == EventClass::Late
                || (generated.class == EventClass::OutOfOrder && generated.delay_ms >= watermark_delay_ms);
            if late {
                expected.late.insert(index);
                continue;
            }
            // A float too large for its units is dropped, as the engines' plan drops it.
            let values: Option<Vec<Option<Val>>> = self
                .calls
                .iter()
                .map(|(_, at)| match at {
                    Some((i, _)) => self.value_in_units(&row[*i], *i).map(Some),
                    None => Some(None),
                })
                .collect();
            let Some(values) = values else {
                expected.filtered += 1;
                continue;
            };
            let key: Vec<Val> = self.key.iter().map(|&i| row[i].clone()).collect();
            for (start, end) in self.window.fixed_windows(time) {
                let accumulators = windows.entry((key.clone(), start, end)).or_insert_with(|| {
                    self.calls
                        .iter()
                        .map(|(c, at)| Accumulator::new(c.function, self.in_units(*at)))
                        .collect()
                });
                for (acc, value) in accumulators.iter_mut().zip(&values) {
                    acc.add(value.as_ref(), time, index);
                }
            }
        }
        expected.windows = windows
            .into_iter()
            .map(|(window, accs)| {
                let values = accs.into_iter().zip(&self.calls).map(|(acc, (call, at))| {
                    let decimals = at.and_then(|(i, _)| self.decimals(i));
                    from_units_of(call.function, decimals, acc.finish())
                });
                (window, values.collect())
            })
            .collect();
        Ok(expected)
    }

    /// The field `at` as its aggregates take it: a float with decimals as
    /// whole units.
    fn in_units(&self, at: Option<(usize, Type)>) -> Option<(usize, Type)> {
        at.map(|(i, t)| match (t, self.decimals(i)) {
            (Type::Float, Some(_)) => (i, Type::Int),
            _ => (i, t),
        })
    }

    /// `value`, of the field at position `at`, as its aggregates take it;
    /// none when a float does not fit its units.
    fn value_in_units(&self, value: &Val, at: usize) -> Option<Val> {
        match (value, self.decimals(at)) {
            (Val::Float(x), Some(d)) => to_units(*x, d).map(Val::Int),
            _ => Some(value.clone()),
        }
    }
}

/// An aggregate of `function` over units of `decimals` back in the field's
/// own terms (a count of them stays a count).
fn from_units_of(function: Function, decimals: Option<u32>, value: Option<Val>) -> Option<Val> {
    match (function, decimals, value) {
        (Function::Count | Function::CountDistinct, _, value) | (_, None, value) => value,
        (_, Some(d), Some(Val::Int(units))) => Some(Val::Float(from_units(units, d))),
        (_, Some(d), Some(Val::Float(mean))) => Some(Val::Float(mean / scale(d))),
        (_, _, value) => value,
    }
}

/// One aggregate's state over a window's events.
#[derive(Debug, Clone)]
enum Accumulator {
    Count(i64),
    /// Whole numbers sum exactly (none once the sum overflows).
    SumInt(Option<i64>),
    /// Floats sum in event order.
    SumFloat(f64),
    /// The exact sum of whole numbers, and how many.
    MeanInt(Option<i64>, i64),
    /// The sum of floats, and how many.
    MeanFloat(f64, i64),
    Min(Option<Val>),
    Max(Option<Val>),
    Distinct(BTreeSet<Val>),
    /// The value of the earliest (or latest) event by time, ties to the
    /// earlier (or later) event.
    First(Option<(i64, u64, Val)>),
    Last(Option<(i64, u64, Val)>),
}

impl Accumulator {
    /// The state of `function` over a field (position and type), if any.
    fn new(function: Function, field: Option<(usize, Type)>) -> Accumulator {
        let whole = matches!(field, Some((_, Type::Int)));
        match function {
            Function::Count => Accumulator::Count(0),
            Function::Sum if whole => Accumulator::SumInt(Some(0)),
            Function::Sum => Accumulator::SumFloat(0.0),
            Function::Mean if whole => Accumulator::MeanInt(Some(0), 0),
            Function::Mean => Accumulator::MeanFloat(0.0, 0),
            Function::Min => Accumulator::Min(None),
            Function::Max => Accumulator::Max(None),
            Function::CountDistinct => Accumulator::Distinct(BTreeSet::new()),
            Function::First => Accumulator::First(None),
            Function::Last => Accumulator::Last(None),
        }
    }

    fn add(&mut self, value: Option<&Val>, time: i64, id: u64) {
        let Some(v) = value else {
            if let Accumulator::Count(n) = self {
                *n += 1;
            }
            return;
        };
        match self {
            Accumulator::Count(n) => *n += 1,
            Accumulator::SumInt(sum) => *sum = add_whole(*sum, v),
            Accumulator::SumFloat(sum) => *sum += v.as_f64().unwrap_or(0.0),
            Accumulator::MeanInt(sum, n) => {
                *sum = add_whole(*sum, v);
                *n += 1;
            }
            Accumulator::MeanFloat(sum, n) => {
                *sum += v.as_f64().unwrap_or(0.0);
                *n += 1;
            }
            Accumulator::Min(m) if m.as_ref().is_none_or(|m| v < m) => *m = Some(v.clone()),
            Accumulator::Max(m) if m.as_ref().is_none_or(|m| v > m) => *m = Some(v.clone()),
            Accumulator::Min(_) | Accumulator::Max(_) => {}
            Accumulator::Distinct(seen) => {
                seen.insert(v.clone());
            }
            Accumulator::First(first) if first.as_ref().is_none_or(|(t, i, _)| (time, id) < (*t, *i)) => {
                *first = Some((time, id, v.clone()));
            }
            Accumulator::Last(last) if last.as_ref().is_none_or(|(t, i, _)| (time, id) > (*t, *i)) => {
                *last = Some((time, id, v.clone()));
            }
            Accumulator::First(_) | Accumulator::Last(_) => {}
        }
    }

    fn finish(self) -> Option<Val> {
        match self {
            Accumulator::Count(n) => Some(Val::Int(n)),
            Accumulator::SumInt(sum) => sum.map(Val::Int),
            Accumulator::SumFloat(sum) => Some(Val::Float(sum)),
            // The mean of whole numbers divides their exact sum, as the
            // catalogue's engines do.
            Accumulator::MeanInt(sum, n) => sum.filter(|_| n > 0).map(|s| Val::Float(s as f64 / n as f64)),
            Accumulator::MeanFloat(sum, n) => (n > 0).then(|| Val::Float(sum / n as f64)),
            Accumulator::Min(m) | Accumulator::Max(m) => m,
            Accumulator::Distinct(seen) => Some(Val::Int(seen.len() as i64)),
            Accumulator::First(v) | Accumulator::Last(v) => v.map(|(_, _, v)| v),
        }
    }
}

/// `sum` plus a whole number `v`; none once it overflows.
fn add_whole(sum: Option<i64>, v: &Val) -> Option<i64> {
    match v {
        Val::Int(i) => sum?.checked_add(*i),
        _ => sum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::generator::{Late, OutOfOrder, WorkloadSpec};
    use crate::job::{CampaignTable, catalogue_job};
    use crate::oracle::Oracle;
    use crate::schema::Literal;
    use proptest::prelude::*;

    /// A catalogue job written as a declared job over its kind's built-in
    /// schema, asking for every aggregate (`catalogue_declared` writes the
    /// job's own, as the engines run it).
    fn declared(name: &str, spec: &WorkloadSpec) -> DeclaredJob {
        let job = catalogue_job(name).expect("a catalogue job");
        let mut declared: DeclaredJob = toml::from_str(&format!(
            r#"
            input = "builtin"
            key = ["key"]
            window = {{ kind = "tumbling", size_ms = 1 }}
            aggregates = ["count", "sum(value)", "min(value)", "max(value)", "min(event_time_ms)", "max(event_time_ms)"]
            watermark_delay_ms = {}
            "#,
            job.watermark_delay_ms
        ))
        .expect("a declared job");
        declared.window = job.window;
        if name == "ysb" {
            declared.filter = Some("event_type = 'view'".into());
            declared.key = vec!["campaign".into()];
            declared.aggregates = vec!["count".into()];
            let campaigns = CampaignTable::new(spec.seed, spec.keys);
            let rows = campaigns.pairs().map(|(ad, campaign)| {
                BTreeMap::from([
                    ("ad_id".to_string(), Literal::Integer(ad as i64)),
                    ("campaign".to_string(), Literal::Integer(campaign as i64)),
                ])
            });
            declared.enrich = Some(crate::declared_job::Enrich {
                on: "ad_id".into(),
                rows: rows.collect(),
            });
        }
        declared
    }

    fn workload(seed: u64, keys: u64, out_of_order: f64, late: f64) -> WorkloadSpec {
        WorkloadSpec {
            seed,
            events: Some(3_000),
            keys,
            out_of_order: OutOfOrder {
                fraction: out_of_order,
                max_delay_ms: 8_000,
                ..OutOfOrder::default()
            },
            late: Late {
                fraction: late,
                ..Late::default()
            },
            malformed_fraction: 0.01,
            rate: crate::rate::RateProfile::constant(200.0),
            ..WorkloadSpec::default()
        }
    }

    /// The declared form's windows and late events, against the catalogue
    /// oracle's, aggregate by aggregate.
    fn same_as_the_catalogue(name: &str, spec: &WorkloadSpec) -> Result<(), TestCaseError> {
        let job = catalogue_job(name).expect("a catalogue job");
        let kind = job.input;
        let generator = Generator::new(spec.clone(), kind, 1_700_000_000_000).expect("valid");
        let schema = EventSchema::builtin(kind, spec);
        let writer = EventWriter::new(&schema, spec).expect("valid");
        let declared_job = declared(name, spec);
        let plan = JobPlan::new(&declared_job, &schema).map_err(TestCaseError::fail)?;
        let declared = plan
            .expected(&generator, &writer, declared_job.watermark_delay_ms)
            .expect("fixed windows");
        let catalogue = Oracle::compute(&job, &generator).expect("a catalogue job");
        let windows = catalogue.expected(&BTreeSet::new());
        prop_assert_eq!(declared.windows.len(), windows.len(), "{} windows", name);
        for (window, aggregate) in &windows {
            let row = (
                vec![Val::Int(window.key as i64)],
                window.window_start_ms,
                window.window_end_ms,
            );
            let got = declared.windows.get(&row);
            let want: Vec<Option<Val>> = if name == "ysb" {
                vec![Some(Val::Int(aggregate.count))]
            } else {
                [
                    aggregate.count,
                    aggregate.sum,
                    aggregate.min,
                    aggregate.max,
                    aggregate.first_event_time_ms,
                    aggregate.last_event_time_ms,
                ]
                .map(|v| Some(Val::Int(v)))
                .to_vec()
            };
            prop_assert_eq!(got, Some(&want), "{} {:?}", name, window);
        }
        let late: BTreeSet<u64> = catalogue.late_event_ids().collect();
        prop_assert_eq!(declared.late, late, "{} late events", name);
        prop_assert_eq!(declared.malformed, catalogue.expected_dead_letters());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn catalogue_jobs_declared_give_the_catalogues_windows(
            seed in 0u64..1_000,
            keys in 1u64..60,
            out_of_order in 0.0f64..0.4,
            late in 0.0f64..0.1,
        ) {
            let spec = workload(seed, keys, out_of_order, late);
            for name in ["tumbling", "sliding", "ysb"] {
                same_as_the_catalogue(name, &spec)?;
            }
        }
    }

    #[test]
    fn a_filtered_derived_job_counts_what_its_rule_keeps() {
        let spec = workload(3, 20, 0.0, 0.0);
        let generator =
            Generator::new(spec.clone(), EventKind::Measurement, 1_700_000_000_000).expect("valid");
        let schema = EventSchema::builtin(EventKind::Measurement, &spec);
        let writer = EventWriter::new(&schema, &spec).expect("valid");
        let job: DeclaredJob = toml::from_str(
            r#"
            input = "builtin"
            filter = "value % 2 = 0"
            derive = [{ name = "half", expr = "value / 2" }]
            window = { kind = "tumbling", size_ms = 1000000000000000 }
            aggregates = ["count", "sum(half)", "count_distinct(key) as keys", "first(event_id)", "last(event_id)"]
            "#,
        )
        .expect("a job");
        let expected = JobPlan::new(&job, &schema)
            .expect("valid")
            .expected(&generator, &writer, 5_000)
            .expect("a tumbling window");
        let mut even = Vec::new();
        for index in 0..generator.len() {
            if let crate::event::Event::Measurement(m) = generator.generate(index).event
                && !matches!(generator.generate(index).class, EventClass::Malformed(_))
                && m.value % 2 == 0
            {
                even.push(m);
            }
        }
        let (_, aggregates) = expected.windows.iter().next().expect("one window");
        assert_eq!(expected.windows.len(), 1, "no key: one group");
        assert_eq!(aggregates[0], Some(Val::Int(even.len() as i64)));
        let half: f64 = even.iter().map(|m| m.value as f64 / 2.0).sum();
        assert_eq!(
            aggregates[1],
            Some(Val::Float(half)),
            "halves of even numbers are exact"
        );
        let keys: BTreeSet<u64> = even.iter().map(|m| m.key).collect();
        assert_eq!(aggregates[2], Some(Val::Int(keys.len() as i64)));
        let first = even
            .iter()
            .min_by_key(|m| (m.event_time_ms, m.event_id))
            .unwrap()
            .event_id;
        let last = even
            .iter()
            .max_by_key(|m| (m.event_time_ms, m.event_id))
            .unwrap()
            .event_id;
        assert_eq!(aggregates[3], Some(Val::Int(first as i64)));
        assert_eq!(aggregates[4], Some(Val::Int(last as i64)));
        assert_eq!(
            expected.filtered,
            generator.len() - expected.malformed - even.len() as u64
        );
    }
}
