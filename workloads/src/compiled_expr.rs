//! An expression compiled once against a row's columns, as streambench's
//! engines evaluate filters and derived fields per record: every field
//! resolved to its position, constants made once, values borrowed from the
//! row, so that evaluating allocates only for text it computes. It gives
//! exactly what [`Expr::eval`] gives, which stays the oracle's plain
//! interpreter and judges it (a property test here; the `decode_declared`
//! fuzz target through a whole record plan).

use std::borrow::Cow;

use crate::expr::{Binary, Columns, Expr, Unary, Val, apply, equal};

/// An expression with its fields resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Compiled {
    /// The value at a position of the row.
    Field(usize),
    /// A constant.
    Const(Val),
    /// `not x`.
    Not(Box<Compiled>),
    /// `-x`.
    Neg(Box<Compiled>),
    /// `x op y`.
    Binary(Binary, Box<Compiled>, Box<Compiled>),
    /// `x in [...]`, or `not in` when `negated`.
    In {
        /// The value looked for.
        value: Box<Compiled>,
        /// The list.
        list: Vec<Compiled>,
        /// `not in`.
        negated: bool,
    },
}

impl Compiled {
    /// `expr` over rows of `columns`; the error names a field not there.
    pub fn new(expr: &Expr, columns: &Columns) -> Result<Compiled, String> {
        let compile = |x: &Expr| Compiled::new(x, columns).map(Box::new);
        Ok(match expr {
            Expr::Field(name) => Compiled::Field(
                columns
                    .iter()
                    .position(|(n, _)| n == name)
                    .ok_or_else(|| format!("no field `{name}`"))?,
            ),
            Expr::Int(n) => Compiled::Const(Val::Int(*n)),
            Expr::Float(x) => Compiled::Const(Val::Float(*x)),
            Expr::Text(t) => Compiled::Const(Val::Text(t.clone())),
            Expr::Bool(b) => Compiled::Const(Val::Bool(*b)),
            Expr::Unary(Unary::Not, x) => Compiled::Not(compile(x)?),
            Expr::Unary(Unary::Neg, x) => Compiled::Neg(compile(x)?),
            Expr::Binary(op, x, y) => Compiled::Binary(*op, compile(x)?, compile(y)?),
            Expr::In { value, list, negated } => Compiled::In {
                value: compile(value)?,
                list: list
                    .iter()
                    .map(|item| Compiled::new(item, columns))
                    .collect::<Result<_, _>>()?,
                negated: *negated,
            },
        })
    }

    /// Its value over `row`; none where SQL gives NULL (as [`Expr::eval`]).
    pub fn eval<'r>(&'r self, row: &'r [Val]) -> Option<Cow<'r, Val>> {
        match self {
            Compiled::Field(at) => row.get(*at).map(Cow::Borrowed),
            Compiled::Const(value) => Some(Cow::Borrowed(value)),
            Compiled::Not(x) => match x.eval(row)?.as_ref() {
                Val::Bool(b) => Some(Cow::Owned(Val::Bool(!b))),
                _ => None,
            },
            Compiled::Neg(x) => match x.eval(row)?.as_ref() {
                Val::Int(n) => n.checked_neg().map(|n| Cow::Owned(Val::Int(n))),
                Val::Float(f) => Some(Cow::Owned(Val::Float(-f))),
                _ => None,
            },
            Compiled::Binary(op @ (Binary::And | Binary::Or), x, y) => {
                logic(*op, x.truth(row), y.truth(row)).map(|b| Cow::Owned(Val::Bool(b)))
            }
            Compiled::Binary(op, x, y) => {
                let (a, b) = (x.eval(row)?, y.eval(row)?);
                apply(*op, &a, &b).map(Cow::Owned)
            }
            Compiled::In { value, list, negated } => {
                let v = value.eval(row)?;
                let found = list
                    .iter()
                    .any(|item| item.eval(row).is_some_and(|i| equal(&v, &i)));
                Some(Cow::Owned(Val::Bool(found != *negated)))
            }
        }
    }

    /// Calls `read` with the position of every field it reads.
    pub fn fields(&self, read: &mut impl FnMut(usize)) {
        match self {
            Compiled::Field(at) => read(*at),
            Compiled::Const(_) => {}
            Compiled::Not(x) | Compiled::Neg(x) => x.fields(read),
            Compiled::Binary(_, x, y) => {
                x.fields(read);
                y.fields(read);
            }
            Compiled::In { value, list, .. } => {
                value.fields(read);
                list.iter().for_each(|item| item.fields(read));
            }
        }
    }

    /// Whether it holds over `row`: true, false, or none (NULL, or not a
    /// truth value).
    pub fn truth(&self, row: &[Val]) -> Option<bool> {
        match self.eval(row)?.as_ref() {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// SQL's three-valued `and` and `or`: both sides are evaluated, as SQL
/// does not promise to skip one.
fn logic(op: Binary, p: Option<bool>, q: Option<bool>) -> Option<bool> {
    match (op, p, q) {
        (Binary::And, Some(false), _) | (Binary::And, _, Some(false)) => Some(false),
        (Binary::Or, Some(true), _) | (Binary::Or, _, Some(true)) => Some(true),
        (Binary::And, Some(p), Some(q)) => Some(p && q),
        (_, Some(p), Some(q)) => Some(p || q),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Type, parse};
    use proptest::prelude::*;

    fn columns() -> Columns {
        [
            ("i", Type::Int),
            ("j", Type::Int),
            ("x", Type::Float),
            ("t", Type::Text),
            ("b", Type::Bool),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect()
    }

    /// Expressions over the columns, typed or not (an ill-typed one gives
    /// none on both sides), with overflow, zero divisors and text.
    fn expression() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("i".to_string()),
            Just("j".to_string()),
            Just("x".to_string()),
            Just("t".to_string()),
            Just("b".to_string()),
            Just("0".to_string()),
            Just("9223372036854775807".to_string()),
            Just("2.5".to_string()),
            Just("'DE'".to_string()),
            Just("true".to_string()),
        ];
        leaf.prop_recursive(4, 24, 3, |inner| {
            let op = prop_oneof![
                Just("and"),
                Just("or"),
                Just("="),
                Just("!="),
                Just("<"),
                Just("<="),
                Just(">"),
                Just(">="),
                Just("+"),
                Just("-"),
                Just("*"),
                Just("/"),
                Just("%"),
            ];
            prop_oneof![
                (inner.clone(), op, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                inner.clone().prop_map(|a| format!("not ({a})")),
                inner.clone().prop_map(|a| format!("-({a})")),
                (
                    inner.clone(),
                    proptest::collection::vec(inner, 0..3),
                    any::<bool>()
                )
                    .prop_map(|(a, list, negated)| format!(
                        "({a} {}in [{}])",
                        if negated { "not " } else { "" },
                        list.join(", ")
                    )),
            ]
        })
    }

    fn row() -> impl Strategy<Value = Vec<Val>> {
        (
            prop_oneof![any::<i64>(), -3i64..3, Just(i64::MIN)],
            prop_oneof![any::<i64>(), -3i64..3],
            prop_oneof![any::<f64>(), Just(0.0), Just(2.5)],
            prop_oneof![Just("DE".to_string()), ".{0,3}"],
            any::<bool>(),
        )
            .prop_map(|(i, j, x, t, b)| {
                vec![
                    Val::Int(i),
                    Val::Int(j),
                    Val::Float(x),
                    Val::Text(t),
                    Val::Bool(b),
                ]
            })
    }

    proptest! {
        #[test]
        fn the_compiled_form_gives_what_the_interpreter_gives(text in expression(), row in row()) {
            let expr = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            let compiled = Compiled::new(&expr, &columns()).expect("every field is a column");
            let want = expr.eval(&columns(), &row);
            let got = compiled.eval(&row).map(Cow::into_owned);
            // NaN is not equal to itself: compare as the oracle orders values.
            let same = match (&want, &got) {
                (Some(a), Some(b)) => a.total_cmp(b) == std::cmp::Ordering::Equal && a.kind() == b.kind(),
                (a, b) => a == b,
            };
            prop_assert!(same, "{text} over {row:?}: interpreter {want:?}, compiled {got:?}");
        }
    }

    #[test]
    fn a_field_not_in_the_row_is_named() {
        let expr = parse("nope + 1").expect("parses");
        assert_eq!(Compiled::new(&expr, &columns()), Err("no field `nope`".into()));
    }
}
