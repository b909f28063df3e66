//! The HTML report: one self-contained file with the Markdown report's
//! tables and the run's charts as inline SVG. Inline CSS, no scripts, no
//! external fetches: it opens anywhere, offline, and can be mailed.

use std::fmt::Write;

use crate::figures::{Figure, job_figures, run_figures};
use crate::markdown::{
    GUIDE_CAVEAT, context_table, groups_table, guide_sections, job_table, jobs, restarts_table,
    scenarios_table, search_lines,
};
use crate::results::Results;
use crate::svg::ChartError;
use crate::table::escape_html;

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d1d1f; margin: 0; background: #fafafa; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; background: #fff; }
h1 { font-size: 1.7em; margin-top: 0; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 2em; }
table { border-collapse: collapse; margin: 12px 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; }
th { background: #f2f2f2; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 20px 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
code { background: #f2f2f2; padding: 1px 4px; border-radius: 3px; }
nav ul { columns: 2; }
";

/// `text` escaped, with `code` spans where the Markdown has backticks.
fn with_code(text: &str) -> String {
    escape_html(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// Appends `figure` as an SVG with its title as the caption.
fn push_figure(out: &mut String, figure: &Figure, number: &mut usize) -> Result<(), ChartError> {
    *number += 1;
    let svg = figure.draw()?;
    let _ = write!(
        out,
        "<figure id=\"figure-{number}\">\n{svg}\n<figcaption>Figure {number}: {}</figcaption>\n</figure>\n",
        escape_html(figure.title())
    );
    Ok(())
}

/// The whole report as one HTML document.
pub fn report(results: &Results) -> Result<String, ChartError> {
    let name = escape_html(&results.context.suite_name);
    let jobs = jobs(results);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>streambench: {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>streambench: {name}</h1>\n"
    );
    out.push_str(
        "<nav><ul>\n<li><a href=\"#verdict\">Verdict</a></li>\n<li><a href=\"#run\">Run</a></li>\n<li><a href=\"#scenarios\">Scenarios</a></li>\n",
    );
    for (i, job) in jobs.iter().enumerate() {
        let _ = writeln!(
            out,
            "<li><a href=\"#job-{i}\">Job <code>{}</code></a></li>",
            escape_html(job)
        );
    }
    out.push_str("<li><a href=\"#across-jobs\">Checkpoints and restarts</a></li>\n<li><a href=\"#guide\">Decision guide</a></li>\n</ul></nav>\n");

    let mut number = 0;
    out.push_str("<section id=\"verdict\">\n<h2>Verdict</h2>\n");
    let verdicts = crate::verdict::verdicts(results);
    let faults = crate::resilience::verdicts(results);
    if verdicts.is_empty()
        && faults.is_empty()
        && let Some(why) = crate::verdict::unjudged(results)
    {
        let _ = writeln!(out, "<p>{}</p>", escape_html(&why));
    }
    for verdict in &verdicts {
        let _ = writeln!(out, "<p>{}</p>", with_code(&verdict.sentence()));
        out.push_str(&verdict.table().render_html());
        if let Some(figure) = crate::figures::frontier(results, &verdict.job) {
            push_figure(&mut out, &figure, &mut number)?;
        }
    }
    if !verdicts.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", with_code(crate::markdown::VERDICT_CAVEAT));
    }
    let skipped = crate::markdown::skipped_note(results);
    if !skipped.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", with_code(&skipped));
    }
    for fault in &faults {
        let _ = writeln!(out, "<p>{}</p>", with_code(&fault.sentence()));
    }
    push_watermark_trade_off(&mut out, results, &mut number)?;
    push_scaling(&mut out, results, &mut number)?;
    out.push_str("</section>\n");
    out.push_str("<section id=\"run\">\n<h2>Run</h2>\n");
    out.push_str(&context_table(results).render_html());
    out.push_str("</section>\n<section id=\"scenarios\">\n<h2>Scenarios</h2>\n");
    out.push_str(&scenarios_table(results).render_html());
    let restarts = restarts_table(results);
    if !restarts.is_empty() {
        out.push_str("<h3>Restarts</h3>\n");
        out.push_str(&restarts.render_html());
    }
    if results.has_repetitions_or_searches() {
        out.push_str("<h3>Median [min-max] over repetitions</h3>\n");
        out.push_str(&groups_table(results).render_html());
    }
    for line in search_lines(results) {
        let _ = writeln!(out, "<p>{}</p>", with_code(&line));
    }
    out.push_str("</section>\n");

    for (i, job) in jobs.iter().enumerate() {
        let _ = writeln!(
            out,
            "<section id=\"job-{i}\">\n<h2>Job <code>{}</code></h2>",
            escape_html(job)
        );
        if let Some(declared) = crate::markdown::declaration(results, job) {
            let _ = writeln!(out, "<p>Declared in the suite: {}.</p>", with_code(&declared));
        }
        out.push_str(&job_table(results, job).render_html());
        for figure in job_figures(results, job) {
            push_figure(&mut out, &figure, &mut number)?;
        }
        out.push_str("</section>\n");
    }

    out.push_str("<section id=\"across-jobs\">\n<h2>Checkpoints and restarts</h2>\n");
    let across = run_figures(results);
    if across.is_empty() {
        out.push_str("<p>This run compared no checkpoint intervals and killed no engine.</p>\n");
    }
    for figure in across {
        push_figure(&mut out, &figure, &mut number)?;
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"guide\">\n<h2>Decision guide</h2>\n");
    for section in guide_sections(results) {
        let _ = writeln!(out, "<h3><code>{}</code></h3>", escape_html(&section.job));
        out.push_str(&section.targets.render_html());
        for tradeoff in &section.tradeoffs {
            let _ = writeln!(out, "<p>{}</p>", with_code(tradeoff));
        }
    }
    let _ = writeln!(out, "<p>{}</p>\n</section>", with_code(GUIDE_CAVEAT));
    out.push_str("</main>\n</body>\n</html>\n");
    Ok(out)
}

/// The watermark trade-off, when the run swept the watermark: what it
/// measures, a sentence per setting, the table and a chart per job.
fn push_watermark_trade_off(
    out: &mut String,
    results: &Results,
    number: &mut usize,
) -> Result<(), ChartError> {
    let sweeps = crate::watermark::sweeps(results);
    if sweeps.is_empty() {
        return Ok(());
    }
    out.push_str("<h3>Watermark trade-off</h3>\n");
    let _ = writeln!(out, "<p>{}</p>", with_code(crate::markdown::WATERMARK_CAVEAT));
    for sweep in &sweeps {
        let _ = writeln!(out, "<p>{}</p>", with_code(&sweep.sentence()));
    }
    out.push_str(&crate::watermark::table(&sweeps).render_html());
    for job in jobs(results) {
        if let Some(figure) = crate::watermark::figure(results, &job) {
            push_figure(out, &figure, number)?;
        }
    }
    Ok(())
}

/// The capacity curve, when the run searched at several parallelisms:
/// what it measures, a sentence per setting, the table and a chart per job.
fn push_scaling(out: &mut String, results: &Results, number: &mut usize) -> Result<(), ChartError> {
    let curves = crate::scaling::curves(results);
    if curves.is_empty() {
        return Ok(());
    }
    out.push_str("<h3>Scaling</h3>\n");
    let _ = writeln!(out, "<p>{}</p>", with_code(&crate::scaling::caveat(results)));
    for curve in &curves {
        let _ = writeln!(out, "<p>{}</p>", with_code(&curve.sentence()));
    }
    out.push_str(&crate::scaling::table(&curves).render_html());
    for job in jobs(results) {
        if let Some(figure) = crate::scaling::figure(results, &job) {
            push_figure(out, &figure, number)?;
        }
    }
    Ok(())
}

/// The titles of the charts `report` draws, in order: what a reader (or a
/// test) should find in it.
pub fn figure_titles(results: &Results) -> Vec<String> {
    crate::verdict::verdicts(results)
        .iter()
        .filter_map(|v| crate::figures::frontier(results, &v.job))
        .chain(
            jobs(results)
                .iter()
                .filter_map(|job| crate::watermark::figure(results, job)),
        )
        .chain(
            jobs(results)
                .iter()
                .filter_map(|job| crate::scaling::figure(results, job)),
        )
        .chain(jobs(results).iter().flat_map(|job| job_figures(results, job)))
        .chain(run_figures(results))
        .map(|f| f.title().to_string())
        .collect()
}
