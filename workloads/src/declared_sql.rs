//! A declared job in the SQL of the JVM engines, for their adapters' queries
//! to run exactly what streambench's [`RecordPlan`] runs: the schema's
//! fields as the records decode, the filter, the derived fields and the
//! joined table as SQL expressions, and the four columns every engine's rows
//! are made of (event id, event time, key and aggregated value).
//!
//! An expression's SQL gives what [`Expr::eval`] gives, NULL where it gives
//! none: whole-number arithmetic that overflows is NULL (Spark's `try_*`
//! functions; in Flink, whose arithmetic wraps, the functions the Flink job
//! registers under [`FLINK_FUNCTIONS`]), so is a division or remainder by
//! zero (`NULLIF` on the divisor), and division always gives a float.

use std::collections::BTreeMap;

use serde::Serialize;

#[cfg(doc)]
use crate::decimals::to_units;
use crate::declared_run::{Declared, RecordPlan, carried_fields};
use crate::expr::{Binary, Columns, Expr, Type, Unary, Val};

/// Whose SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Spark SQL (ANSI mode, Spark's default from 4.0).
    Spark,
    /// Flink SQL.
    Flink,
}

/// The scalar functions the Flink job registers for checked whole-number
/// arithmetic (`+`, `-`, `*`: NULL on overflow) and a float remainder
/// (NULL by zero), which Flink SQL lacks: their names, with what they do.
pub const FLINK_FUNCTIONS: [(&str, &str); 4] = [
    ("SB_ADD", "x + y, NULL on overflow"),
    ("SB_SUB", "x - y, NULL on overflow"),
    ("SB_MUL", "x * y, NULL on overflow"),
    ("SB_FMOD", "x % y of floats, NULL when y is 0"),
];

/// A declared job as SQL pieces: what an adapter's query is built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SqlPlan {
    /// The schema's fields, in order: how each record decodes. A record
    /// missing one, or with an enum value not among its values, is not an event.
    pub fields: Vec<SqlField>,
    /// The condition an event must meet to be kept, over the fields.
    pub filter: Option<String>,
    /// The derived columns, in order (one may read those before it). An
    /// event whose derived value is NULL is dropped, as the plan drops it.
    pub derive: Vec<SqlColumn>,
    /// The static table the events are inner-joined with.
    pub enrich: Option<SqlTable>,
    /// The schema's event-time field, which the watermark follows.
    pub time_field: String,
    /// The event's id, as an expression over the joined row.
    pub event_id: String,
    /// Its event time (ms).
    pub event_time: String,
    /// Its key's columns in the result table, each named as there: the key
    /// fields (or `key`, always 0, when the job has none).
    pub keys: Vec<SqlKey>,
    /// The whole numbers it aggregates, one per field its aggregates read,
    /// in order (the event's `value`, then `value_1`, ...; one 1 when they
    /// read none): a float's units, NULL when they do not fit, and the event
    /// is dropped.
    pub values: Vec<String>,
    /// What a per-event row's `ad_id` and `user_id` columns hold: the
    /// event's whole-number fields of those names, else 0
    /// ([`crate::declared_run::CARRIED_FIELDS`]).
    pub carried: [String; 2],
}

/// One field of the schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SqlField {
    /// Its name in the record's JSON (and the column's).
    pub name: String,
    /// Its SQL type.
    pub sql_type: &'static str,
    /// An enum field's values.
    pub values: Vec<String>,
}

/// A column of the result table's key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SqlKey {
    /// Its name in the result table.
    pub name: String,
    /// Its SQL expression over the joined row.
    pub sql: String,
    /// Its SQL type (`BIGINT`, `STRING` or `BOOLEAN`).
    pub sql_type: &'static str,
}

/// A named column computed by an expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SqlColumn {
    /// Its name.
    pub name: String,
    /// Its SQL expression.
    pub sql: String,
}

/// The static table of an enrichment, as a join and as expressions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SqlTable {
    /// The column the events are joined on.
    pub on: String,
    /// A query giving the table's rows (one per value of `on`).
    pub query: String,
    /// The join without a join (which in Flink would end the event time's
    /// role as a time attribute): the condition that `on` is in the table ...
    pub matches: String,
    /// ... and each added column as a `CASE` on `on`.
    pub columns: Vec<SqlColumn>,
}

/// The SQL of `declared` in `dialect`; the error says what no engine runs
/// (the same refusal as [`RecordPlan::new`]).
pub fn sql_plan(declared: &Declared, dialect: Dialect) -> Result<SqlPlan, String> {
    let record = RecordPlan::new(declared)?;
    let plan = record.job_plan();
    let fields = declared.schema.fields.len();
    let columns = &plan.columns;
    let sql = |expr: &Expr, upto: usize| {
        Sql {
            columns: &columns[..upto],
            dialect,
        }
        .of(expr)
    };
    let name = |at: usize| quoted(&columns[at].0);
    let derive = plan
        .derive
        .iter()
        .enumerate()
        .map(|(i, expr)| SqlColumn {
            name: columns[fields + i].0.clone(),
            sql: sql(expr, fields + i),
        })
        .collect();
    let enrich = plan
        .enrich
        .as_ref()
        .map(|(on, table)| sql_table(*on, table, columns, dialect));
    let (id, time, key, values) = record.positions();
    Ok(SqlPlan {
        fields: declared.schema.fields.iter().map(sql_field).collect(),
        filter: plan.filter.as_ref().map(|f| sql(f, fields)),
        derive,
        enrich,
        time_field: declared.schema.time.clone(),
        event_id: name(id),
        event_time: name(time),
        keys: declared
            .key_columns()
            .into_iter()
            .enumerate()
            .map(|(i, column)| SqlKey {
                name: column.name,
                // A job without a key has one column, `key`, always 0.
                sql: key
                    .get(i)
                    .map_or_else(|| literal(&Val::Int(0), dialect), |at| name(*at)),
                sql_type: sql_type(column.kind),
            })
            .collect(),
        values: match values.is_empty() {
            true => vec![literal(&Val::Int(1), dialect)],
            false => values
                .iter()
                .zip(record.value_decimals())
                .map(|(at, decimals)| match decimals {
                    None => name(*at),
                    Some(decimals) => in_units(&name(*at), decimals),
                })
                .collect(),
        },
        carried: carried_fields(plan, &declared.job.window).map(|at| match at {
            Some(at) => name(at),
            None => literal(&Val::Int(0), dialect),
        }),
    })
}

/// The float `x` in whole units of its `decimals`, as [`to_units`] gives
/// it: rounded half away from zero (both dialects' `ROUND` of a `DOUBLE`),
/// NULL when it does not fit a `BIGINT` (and the event is dropped).
fn in_units(x: &str, decimals: u32) -> String {
    let units = format!("ROUND({x} * CAST({} AS DOUBLE), 0)", 10i64.pow(decimals));
    // 2^63, exact as a double: what does not fit a BIGINT.
    format!("CASE WHEN ABS({units}) < 9.223372036854775807E18 THEN CAST({units} AS BIGINT) END")
}

fn sql_field(field: &crate::schema::Field) -> SqlField {
    SqlField {
        name: field.name.clone(),
        sql_type: sql_type(Type::of(field.kind)),
        values: field.values.clone(),
    }
}

/// The SQL type (in both dialects) of values of type `kind`.
fn sql_type(kind: Type) -> &'static str {
    match kind {
        Type::Int => "BIGINT",
        Type::Float => "DOUBLE",
        Type::Text => "STRING",
        Type::Bool => "BOOLEAN",
    }
}

/// The enrichment joining on column `on` whose rows, by their value of
/// `on`, are `table` (the other columns last in `columns`).
fn sql_table(on: usize, table: &BTreeMap<Val, Vec<Val>>, columns: &Columns, dialect: Dialect) -> SqlTable {
    let added = &columns[columns.len() - table.values().next().map_or(0, Vec::len)..];
    let lit = |v: &Val| literal(v, dialect);
    let on_name = quoted(&columns[on].0);
    let names: Vec<String> = std::iter::once(&columns[on].0)
        .chain(added.iter().map(|(n, _)| n))
        .map(|n| quoted(n))
        .collect();
    let rows: Vec<String> = table
        .iter()
        .map(|(value, others)| {
            let cells: Vec<String> = std::iter::once(value).chain(others).map(lit).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let values = format!("VALUES {}", rows.join(", "));
    let alias = format!("AS t({})", names.join(", "));
    let query = match dialect {
        Dialect::Spark => format!("SELECT * FROM {values} {alias}"),
        Dialect::Flink => format!("SELECT * FROM ({values}) {alias}"),
    };
    let keys: Vec<String> = table.keys().map(lit).collect();
    let lookups: Vec<SqlColumn> = added
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let cases: Vec<String> = table
                .iter()
                .map(|(value, others)| format!("WHEN {} THEN {}", lit(value), lit(&others[i])))
                .collect();
            SqlColumn {
                name: name.clone(),
                sql: format!("(CASE {on_name} {} END)", cases.join(" ")),
            }
        })
        .collect();
    SqlTable {
        on: columns[on].0.clone(),
        query,
        matches: format!("({on_name} IN ({}))", keys.join(", ")),
        columns: lookups,
    }
}

/// A name as an SQL identifier (names are letters, digits and `_`).
fn quoted(name: &str) -> String {
    format!("`{name}`")
}

/// A value as an SQL literal of its exact type.
fn literal(value: &Val, dialect: Dialect) -> String {
    match value {
        Val::Int(i64::MIN) => "CAST('-9223372036854775808' AS BIGINT)".into(),
        Val::Int(n) => format!("CAST({n} AS BIGINT)"),
        Val::Float(x) => format!("CAST('{x:?}' AS DOUBLE)"),
        Val::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        // Spark reads backslash escapes in literals; Flink only doubles
        // quotes, and a bare literal there is a fixed-length CHAR.
        Val::Text(t) => match dialect {
            Dialect::Spark => format!("'{}'", t.replace('\\', "\\\\").replace('\'', "\\'")),
            Dialect::Flink => format!("CAST('{}' AS STRING)", t.replace('\'', "''")),
        },
    }
}

/// Expressions over `columns` (as checked) in `dialect`.
struct Sql<'c> {
    columns: &'c [(String, Type)],
    dialect: Dialect,
}

impl Sql<'_> {
    fn of(&self, expr: &Expr) -> String {
        match expr {
            Expr::Field(name) => quoted(name),
            Expr::Int(n) => literal(&Val::Int(*n), self.dialect),
            Expr::Float(x) => literal(&Val::Float(*x), self.dialect),
            Expr::Text(t) => literal(&Val::Text(t.clone()), self.dialect),
            Expr::Bool(b) => literal(&Val::Bool(*b), self.dialect),
            Expr::Unary(Unary::Not, x) => format!("(NOT {})", self.of(x)),
            Expr::Unary(Unary::Neg, x) if self.is_int(x) => self.checked(Binary::Sub, &Expr::Int(0), x),
            Expr::Unary(Unary::Neg, x) => format!("(- {})", self.of(x)),
            Expr::Binary(op, x, y) => self.binary(*op, x, y),
            Expr::In { value, list, negated } => self.member(value, list, *negated),
        }
    }

    fn is_int(&self, expr: &Expr) -> bool {
        expr.type_in(&self.columns.to_vec()) == Ok(Type::Int)
    }

    fn binary(&self, op: Binary, x: &Expr, y: &Expr) -> String {
        let (a, b) = (self.of(x), self.of(y));
        let both_int = self.is_int(x) && self.is_int(y);
        let double = |s: &str| format!("CAST({s} AS DOUBLE)");
        match op {
            Binary::Add | Binary::Sub | Binary::Mul if both_int => self.checked(op, x, y),
            Binary::Div => format!("({} / NULLIF({}, 0))", double(&a), double(&b)),
            Binary::Rem if both_int => format!("MOD({a}, NULLIF({b}, 0))"),
            Binary::Rem => match self.dialect {
                Dialect::Spark => format!("MOD({}, NULLIF({}, 0))", double(&a), double(&b)),
                Dialect::Flink => format!("SB_FMOD({}, {})", double(&a), double(&b)),
            },
            Binary::Ne => format!("({a} <> {b})"),
            _ => format!("({a} {} {b})", op.symbol().to_uppercase()),
        }
    }

    /// Whole-number `+ - *`, NULL on overflow.
    fn checked(&self, op: Binary, x: &Expr, y: &Expr) -> String {
        let function = match (self.dialect, op) {
            (Dialect::Spark, Binary::Add) => "try_add",
            (Dialect::Spark, Binary::Sub) => "try_subtract",
            (Dialect::Spark, _) => "try_multiply",
            (Dialect::Flink, Binary::Add) => "SB_ADD",
            (Dialect::Flink, Binary::Sub) => "SB_SUB",
            (Dialect::Flink, _) => "SB_MUL",
        };
        format!("{function}({}, {})", self.of(x), self.of(y))
    }

    /// `value [not] in [list]`: NULL when the value is; an item that is
    /// NULL matches nothing (where SQL's `IN` would give NULL).
    fn member(&self, value: &Expr, list: &[Expr], negated: bool) -> String {
        let v = self.of(value);
        let not = if negated { "NOT " } else { "" };
        let literals = list
            .iter()
            .all(|i| matches!(i, Expr::Int(_) | Expr::Float(_) | Expr::Text(_) | Expr::Bool(_)));
        if literals {
            let items: Vec<String> = list.iter().map(|i| self.of(i)).collect();
            return format!("({v} {not}IN ({}))", items.join(", "));
        }
        let matches: Vec<String> = list
            .iter()
            .map(|i| format!("COALESCE({v} = {}, FALSE)", self.of(i)))
            .chain(std::iter::once("FALSE".to_string()))
            .collect();
        format!(
            "(CASE WHEN {v} IS NULL THEN NULL ELSE {not}({}) END)",
            matches.join(" OR ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declared_job::DeclaredJob;
    use crate::schema::payment_schema;

    fn declared(job: &str) -> Declared {
        let job: DeclaredJob = toml::from_str(job).expect("job");
        Declared {
            schema_name: "payment".into(),
            schema: payment_schema(),
            job,
        }
    }

    #[test]
    fn a_job_becomes_its_sql_in_both_dialects() {
        let job = declared(
            r#"
            input = "payment"
            filter = "amount_cents * 2 > 15000 and country not in ['DE', 'it''s'] and not online"
            derive = [{ name = "share", expr = "amount_cents / 100" }, { name = "odd", expr = "-card % 2" }]
            key = ["merchant"]
            enrich = { on = "merchant", rows = [{ merchant = 2, tier = "b" }, { merchant = 1, tier = "a" }] }
            window = { kind = "tumbling", size_ms = 10000 }
            aggregates = ["count", "sum(amount_cents)"]
            "#,
        );
        let spark = sql_plan(&job, Dialect::Spark).expect("spark");
        assert_eq!(
            spark.filter.as_deref(),
            Some(
                "(((try_multiply(`amount_cents`, CAST(2 AS BIGINT)) > CAST(15000 AS BIGINT)) AND \
                 (`country` NOT IN ('DE', 'it\\'s'))) AND (NOT `online`))"
            )
        );
        assert_eq!(
            spark.derive[0].sql,
            "(CAST(`amount_cents` AS DOUBLE) / NULLIF(CAST(CAST(100 AS BIGINT) AS DOUBLE), 0))"
        );
        assert_eq!(
            spark.derive[1].sql,
            "MOD(try_subtract(CAST(0 AS BIGINT), `card`), NULLIF(CAST(2 AS BIGINT), 0))"
        );
        assert_eq!(
            spark.enrich.as_ref().map(|t| t.query.as_str()),
            Some(
                "SELECT * FROM VALUES (CAST(1 AS BIGINT), 'a'), (CAST(2 AS BIGINT), 'b') AS t(`merchant`, `tier`)"
            )
        );
        assert_eq!(
            (spark.keys[0].sql.as_str(), spark.values[0].as_str()),
            ("`merchant`", "`amount_cents`")
        );
        let table = spark.enrich.as_ref().expect("table");
        assert_eq!(
            table.matches,
            "(`merchant` IN (CAST(1 AS BIGINT), CAST(2 AS BIGINT)))"
        );
        assert_eq!(
            table.columns[0].sql,
            "(CASE `merchant` WHEN CAST(1 AS BIGINT) THEN 'a' WHEN CAST(2 AS BIGINT) THEN 'b' END)"
        );
        let flink = sql_plan(&job, Dialect::Flink).expect("flink");
        assert!(
            flink
                .filter
                .as_deref()
                .expect("filter")
                .starts_with("(((SB_MUL(`amount_cents`")
        );
        assert!(
            flink
                .filter
                .as_deref()
                .expect("filter")
                .contains("CAST('it''s' AS STRING)")
        );
        assert!(
            flink
                .enrich
                .expect("table")
                .query
                .starts_with("SELECT * FROM (VALUES")
        );
    }

    #[test]
    fn the_fields_keep_their_order_and_enum_values() {
        let plan = sql_plan(
            &declared("input = \"payment\"\nwindow = { kind = \"each\" }"),
            Dialect::Spark,
        )
        .expect("plan");
        let schema = payment_schema();
        let names: Vec<&str> = plan.fields.iter().map(|f| f.name.as_str()).collect();
        let declared: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, declared);
        let country = plan.fields.iter().find(|f| f.name == "country").expect("country");
        assert_eq!((country.sql_type, country.values.len()), ("STRING", 3));
        assert_eq!(
            (plan.keys[0].sql.as_str(), plan.values[0].as_str()),
            ("CAST(0 AS BIGINT)", "CAST(1 AS BIGINT)")
        );
    }

    #[test]
    fn a_list_with_a_computed_item_matches_as_the_plan_does() {
        let job =
            declared("input = \"payment\"\nfilter = \"merchant in [card, 3]\"\nwindow = { kind = \"each\" }");
        let filter = sql_plan(&job, Dialect::Spark)
            .expect("plan")
            .filter
            .expect("filter");
        assert_eq!(
            filter,
            "(CASE WHEN `merchant` IS NULL THEN NULL ELSE (COALESCE(`merchant` = `card`, FALSE) OR \
             COALESCE(`merchant` = CAST(3 AS BIGINT), FALSE) OR FALSE) END)"
        );
    }
}
