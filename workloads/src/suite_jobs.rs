//! A suite's `[jobs.NAME]` tables: changes to a catalogue job's defaults,
//! or, with `input`, a job the suite declares over one of its
//! `[schemas.NAME]`. A declared job's errors name the file's line and
//! column: an expression's at the character that is wrong, anything else at
//! the job's table.
//!
//! ```toml
//! [schemas.cards]
//! time = "at"
//! kafka_key = "card"
//! id = "id"
//! fields = [ ... ]
//!
//! [jobs.big_spenders]
//! input = "cards"
//! filter = "amount_cents > 50000"
//! key = ["card"]
//! window = { kind = "each" }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::declared_job::{DeclaredJob, Derived, Enrich, default_watermark_delay_ms};
use crate::declared_run::lower;
use crate::expr::parse;
use crate::job::{CATALOGUE, JobSpec, catalogue_job};
use crate::schema::EventSchema;
use crate::window::WindowSpec;

/// One `[jobs.NAME]` table: the catalogue job `NAME` with other defaults,
/// or (with `input`) a job of the suite's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobOverrides {
    /// A declared job's input schema (`[schemas.<name>]`); none for a
    /// catalogue job.
    pub input: Option<String>,
    /// A declared job's filter.
    pub filter: Option<String>,
    /// A declared job's derived fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derive: Vec<Derived>,
    /// A declared job's key fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    /// A declared job's static table.
    pub enrich: Option<Enrich>,
    /// Another window (a declared job's window).
    pub window: Option<WindowSpec>,
    /// A declared job's aggregates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aggregates: Vec<String>,
    /// Another watermark delay.
    pub watermark_delay_ms: Option<i64>,
    /// Another allowed lateness.
    pub allowed_lateness_ms: Option<i64>,
}

impl JobOverrides {
    /// The job declared by this table, if it has an `input`; the error says
    /// what a catalogue override may not set, or what a declared job lacks.
    pub fn declared(&self) -> Result<Option<DeclaredJob>, String> {
        let Some(input) = &self.input else {
            let declares = self.filter.is_some()
                || !self.derive.is_empty()
                || !self.key.is_empty()
                || self.enrich.is_some()
                || !self.aggregates.is_empty();
            if declares {
                return Err(
                    "filter, derive, key, enrich and aggregates declare a job: give its `input` schema too \
                     (a catalogue job takes only window, watermark_delay_ms and allowed_lateness_ms)"
                        .into(),
                );
            }
            return Ok(None);
        };
        let window = self
            .window
            .ok_or("a declared job needs a `window` (`{ kind = \"each\" }` for a row per event)")?;
        Ok(Some(DeclaredJob {
            input: input.clone(),
            filter: self.filter.clone(),
            derive: self.derive.clone(),
            key: self.key.clone(),
            enrich: self.enrich.clone(),
            window,
            aggregates: self.aggregates.clone(),
            watermark_delay_ms: self.watermark_delay_ms.unwrap_or_else(default_watermark_delay_ms),
            allowed_lateness_ms: self.allowed_lateness_ms.unwrap_or(0),
        }))
    }
}

/// The job named `name`: declared by the suite, or the catalogue's with the
/// suite's overrides; the error names what is wrong, but not where (see
/// [`place_job_error`]).
pub fn resolve(
    name: &str,
    jobs: &BTreeMap<String, JobOverrides>,
    schemas: &BTreeMap<String, EventSchema>,
) -> Result<JobSpec, String> {
    let overrides = jobs.get(name);
    if let Some(declared) = overrides.map(JobOverrides::declared).transpose()?.flatten() {
        if catalogue_job(name).is_some() {
            return Err(format!(
                "{name} is a catalogue job: name a declared job otherwise"
            ));
        }
        return lower(name, &declared, schemas);
    }
    let mut job = catalogue_job(name).ok_or_else(|| {
        let declared: Vec<&str> = jobs
            .iter()
            .filter(|(_, o)| o.input.is_some())
            .map(|(n, _)| n.as_str())
            .collect();
        let mut known = CATALOGUE.join(", ");
        if !declared.is_empty() {
            known = format!("{known}; the suite declares {}", declared.join(", "));
        }
        format!("unknown job {name:?}; the catalogue has {known}")
    })?;
    if let Some(o) = overrides {
        job.window = o.window.unwrap_or(job.window);
        job.watermark_delay_ms = o.watermark_delay_ms.unwrap_or(job.watermark_delay_ms);
        job.allowed_lateness_ms = o.allowed_lateness_ms.unwrap_or(job.allowed_lateness_ms);
    }
    job.validate().map_err(|e| e.to_string())?;
    Ok(job)
}

/// Checks every schema and declared job of a suite whose text is `text`
/// (whose events are `replayed` from a file, so need no draws); each error
/// names its place in the file.
pub fn check_declared(
    text: &str,
    jobs: &BTreeMap<String, JobOverrides>,
    schemas: &BTreeMap<String, EventSchema>,
    replayed: bool,
) -> Result<(), String> {
    for (name, schema) in schemas {
        let checked = match replayed {
            true => schema.validate_replayed(),
            false => schema.validate(),
        };
        checked.map_err(|e| {
            let (line, column) = table_place(text, "schemas", name);
            format!("[schemas.{name}] (line {line}, column {column}): {e}")
        })?;
    }
    for (name, overrides) in jobs {
        let Some(declared) = overrides.declared().map_err(|e| job_error(text, name, &e))? else {
            continue;
        };
        for expression in declared
            .filter
            .iter()
            .chain(declared.derive.iter().map(|d| &d.expr))
        {
            if let Err(e) = parse(expression) {
                let (line, column) = expression_place(text, name, expression, e.column);
                return Err(format!(
                    "[jobs.{name}] line {line}, column {column}: in `{expression}`: {}",
                    e.message
                ));
            }
        }
        resolve(name, jobs, schemas).map_err(|e| job_error(text, name, &e))?;
    }
    Ok(())
}

/// `error` of job `name`, placed at its table.
fn job_error(text: &str, name: &str, error: &str) -> String {
    let (line, column) = table_place(text, "jobs", name);
    format!("[jobs.{name}] (line {line}, column {column}): {error}")
}

/// Where `[table.name]` starts in `text` (line and column from 1); the
/// file's start if it is written another way (a dotted key, say).
fn table_place(text: &str, table: &str, name: &str) -> (usize, usize) {
    let at = [format!("[{table}.{name}]"), format!("[{table}.\"{name}\"]")]
        .iter()
        .find_map(|header| text.find(header.as_str()))
        .unwrap_or(0);
    line_and_column(text, at)
}

/// Where character `column` (from 1) of `expression`, written in job
/// `name`'s table, lies in `text`: found as written after the table's
/// header; the table's place if it is written with escapes.
fn expression_place(text: &str, name: &str, expression: &str, column: usize) -> (usize, usize) {
    let (line, _) = table_place(text, "jobs", name);
    let table_start: usize = text.split_inclusive('\n').take(line - 1).map(str::len).sum();
    let into: usize = expression
        .chars()
        .take(column.saturating_sub(1))
        .map(char::len_utf8)
        .sum();
    match text[table_start..].find(expression) {
        Some(at) => line_and_column(text, table_start + at + into),
        None => table_place(text, "jobs", name),
    }
}

/// Line and column (from 1) of byte `at` in `text`.
pub fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use crate::suite::Suite;

    const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/suites/cards.toml");

    fn cards() -> String {
        std::fs::read_to_string(SUITE).expect("cards.toml")
    }

    fn refused(text: &str) -> String {
        Suite::parse(text, "cards.toml", &crate::engine::examples())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn the_example_suites_declare_jobs_the_engines_run() {
        for name in ["cards", "surge"] {
            let path = format!("{}/suites/{name}.toml", env!("CARGO_MANIFEST_DIR"));
            let suite = Suite::from_file(path.as_ref(), &crate::engine::examples()).expect("valid");
            let jobs = suite.job_specs().expect("jobs");
            assert!(
                !jobs.is_empty() && jobs.iter().all(|j| j.declared.is_some()),
                "{name}"
            );
        }
    }

    #[test]
    fn a_bad_expression_is_placed_at_its_line_and_column_in_the_file() {
        let text = cards().replace("amount > 150 and", "amount > > 150 and");
        let error = refused(&text);
        let line = text
            .lines()
            .position(|l| l.starts_with("filter = \"amount > >"))
            .expect("the filter")
            + 1;
        let column = "filter = \"amount > >".len();
        assert!(
            error.contains(&format!(
                "[jobs.big_foreign_online] line {line}, column {column}: in `amount > > 150"
            )),
            "{error}"
        );
        assert!(error.starts_with("suite cards.toml:"), "{error}");
    }

    #[test]
    fn a_wrong_job_or_schema_names_its_table_and_what_is_wrong() {
        let line_of = |text: &str, header: &str| text.lines().position(|l| l == header).expect("header") + 1;
        let text = cards().replace("country != 'US'", "country != 3");
        let error = refused(&text);
        let line = line_of(&text, "[jobs.big_foreign_online]");
        assert!(
            error.contains(&format!(
                "[jobs.big_foreign_online] (line {line}, column 1): filter:"
            )),
            "{error}"
        );

        let text = cards().replace(
            "input = \"payment\"\nkey = [\"merchant\"]",
            "input = \"payments\"\nkey = [\"merchant\"]",
        );
        let error = refused(&text);
        assert!(
            error.contains("[jobs.merchant_sales]")
                && error.contains("input `payments` is not a schema of the suite (it has: payment)"),
            "{error}"
        );

        let text = cards().replace("id = \"id\"", "id = \"at\"");
        let error = refused(&text);
        let line = line_of(&text, "[schemas.payment]");
        assert!(
            error.contains(&format!(
                "[schemas.payment] (line {line}, column 1): id = `at` must name an integer field"
            )),
            "{error}"
        );

        let text = cards().replace("window = { kind = \"each\" }\n", "");
        assert!(
            refused(&text).contains("[jobs.big_foreign_online] (line"),
            "a declared job needs a window"
        );
        assert!(refused(&text).contains("needs a `window`"));
    }

    #[test]
    fn a_catalogue_override_may_not_declare_and_a_declared_job_may_not_take_a_catalogue_name() {
        let text = cards().replace("[matrix]", "[jobs.tumbling]\nfilter = \"value > 3\"\n\n[matrix]");
        let error = refused(&text);
        assert!(
            error.contains("[jobs.tumbling]") && error.contains("give its `input` schema too"),
            "{error}"
        );

        let text = cards()
            .replace("[jobs.merchant_sales]", "[jobs.tumbling]")
            .replace("\"merchant_sales\"]", "\"tumbling\"]");
        let error = refused(&text);
        assert!(error.contains("tumbling is a catalogue job"), "{error}");
    }
}
