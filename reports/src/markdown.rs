//! The Markdown report: the run's context, the scenarios, repetitions'
//! spread, searches, restarts, one table per job, and a decision guide drawn
//! from the figures. [`summary`] is the part `streambench run` prints.

use std::fmt::Write;

use streambench_workloads::engine::EngineName;
use streambench_workloads::suite::FaultPlan;

use crate::results::{Results, ScenarioResult, Spread, Verdict};
use crate::table::Table;

/// Latency targets the decision guide answers for, ms: the verdict's.
pub const LATENCY_TARGETS_MS: [f64; 4] = crate::verdict::TARGETS_MS;

fn ms(value: Option<f64>) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.0}"))
}

/// Events per CPU second (rate per core used), to three significant figures.
pub(crate) fn per_core(value: Option<f64>) -> String {
    match value {
        None => "-".to_string(),
        Some(v) if v >= 1000.0 => {
            let step = 10f64.powi(v.log10().floor() as i32 - 2);
            format!("{:.0}", (v / step).round() * step)
        }
        Some(v) => format!("{v:.0}"),
    }
}

fn spread(s: Option<Spread>) -> String {
    s.map_or("-".to_string(), |s| {
        if s.n > 1 {
            format!("{:.0} [{:.0}-{:.0}]", s.median, s.min, s.max)
        } else {
            format!("{:.0}", s.median)
        }
    })
}

/// The oracle's verdict on one scenario, in a few words.
pub fn verdict(r: &ScenarioResult) -> String {
    match (&r.error, r.passed) {
        (Some(e), _) => format!("ERROR: {}", e.lines().next().unwrap_or_default()),
        (None, true) if r.check.duplicate_rows > 0 => {
            format!("exact, {} duplicate rows (at least once)", r.check.duplicate_rows)
        }
        (None, true) => "exact".to_string(),
        (None, false) => format!(
            "WRONG: {} wrong, {} missing, {} unexpected, {} duplicates, {} lost",
            r.check.wrong_value,
            r.check.missing,
            r.check.unexpected,
            r.check.duplicate_rows,
            r.check.lost_events
        ),
    }
}

/// What `streambench run` prints at the end: one row per scenario, then
/// restarts, repetitions' spread and searches when there are any.
pub fn summary(results: &Results) -> String {
    let mut out = scenarios_table(results).render();
    let restarts = restarts_table(results);
    if !restarts.is_empty() {
        out.push('\n');
        out.push_str(&restarts.render());
    }
    if results.has_repetitions_or_searches() {
        out.push_str("\nMedian [min-max] over repetitions:\n\n");
        out.push_str(&groups_table(results).render());
    }
    for line in search_lines(results) {
        let _ = writeln!(out, "\n{line}");
    }
    out.push_str(&errors(results));
    let faults = crate::resilience::sentences(results);
    if !faults.is_empty() {
        out.push('\n');
        out.push_str(&faults);
    }
    let verdicts = crate::verdict::sentences(results);
    if !verdicts.is_empty() {
        out.push('\n');
        out.push_str(&verdicts);
    }
    out.push_str(&crate::watermark::sentences(results));
    out.push_str(&crate::scaling::sentences(results));
    let skipped = skipped_note(results);
    if !skipped.is_empty() {
        let _ = writeln!(out, "\n{skipped}");
    }
    out
}

/// Each failed scenario's whole error (the table shows its first line
/// only), indented as a code block; empty when none failed.
pub fn errors(results: &Results) -> String {
    let mut out = String::new();
    for (i, r) in results.scenarios.iter().enumerate() {
        if let Some(error) = &r.error {
            let _ = writeln!(out, "\nScenario {} ({}) failed:\n", i + 1, r.scenario.label());
            for line in error.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out
}

/// One sentence naming each job an engine could not run and why; empty
/// when every scenario of the matrix ran.
pub fn skipped_note(results: &Results) -> String {
    if results.skipped.is_empty() {
        return String::new();
    }
    let each: Vec<String> = results
        .skipped
        .iter()
        .map(|s| format!("`{}` ({})", s.label, s.reason))
        .collect();
    format!(
        "Not run, because the engine cannot run the job faithfully: {}.",
        each.join("; ")
    )
}

/// One sentence per rate search: where it ended and every trial.
pub(crate) fn search_lines(results: &Results) -> Vec<String> {
    results
        .searches
        .iter()
        .map(|search| {
            let trials: Vec<String> = search
                .outcome
                .trials
                .iter()
                .map(|t| {
                    let mark = match &t.verdict {
                        Verdict::Sustained => "kept up",
                        Verdict::NotSustained { .. } => "fell behind",
                        Verdict::GeneratorBound { .. } => "generator-bound",
                    };
                    format!("{:.0}/s {mark}", t.offered_per_s)
                })
                .collect();
            format!(
                "Search {}: highest sustained {} ({}).",
                search.label,
                search
                    .outcome
                    .sustained_per_s
                    .map_or("none".into(), |r| format!("{r:.0} events/s")),
                trials.join(", ")
            )
        })
        .collect()
}

pub(crate) fn scenarios_table(results: &Results) -> Table {
    let mut table = Table::new(&[
        ">#",
        "scenario",
        ">event-time p50 ms",
        ">p99 ms",
        ">max ms",
        ">p99 beyond watermark, or per-event after arrival ms",
        ">offered/s",
        ">engine/s",
        ">events/s per core",
        "oracle",
    ]);
    for r in &results.scenarios {
        let latency = &r.event_time_latency;
        table.row(vec![
            r.scenario.number.to_string(),
            r.scenario.label(),
            ms(latency.at(50.0)),
            ms(latency.at(99.0)),
            ms((latency.count > 0).then_some(latency.max_ms)),
            ms(r.engine_delay.at(99.0)),
            format!("{:.0}", r.offered_per_s),
            format!("{:.0}", r.engine_records_per_s),
            per_core(r.resources.events_per_core_s()),
            verdict(r),
        ]);
    }
    table
}

/// One row per scenario with kills or outages: how many, how many struck
/// within a second of the engine's restart from the previous one (while it
/// restored), how many it recovered from before the next, the spread of
/// recovery times, the highest lag, and what the check found. A storm of a
/// hundred kills stays one row; every kill's own figures are in
/// `results.json`.
pub(crate) fn restarts_table(results: &Results) -> Table {
    let mut table = Table::new(&[
        ">#",
        "scenario",
        ">faults",
        ">first at s",
        ">within 1 s of a restart",
        ">recovered",
        ">recovery p50 s",
        ">p99 s",
        ">max s",
        ">lag before",
        ">peak lag",
        ">duplicates",
        ">lost",
    ]);
    for r in results.scenarios.iter().filter(|r| !r.recovery.is_empty()) {
        let mut times: Vec<f64> = r.recovery.iter().filter_map(|k| k.recovery_s).collect();
        times.sort_by(f64::total_cmp);
        let at = |p: f64| nearest_rank(&times, p).map_or("-".into(), |s| format!("{s:.1}"));
        table.row(vec![
            r.scenario.number.to_string(),
            r.scenario.label(),
            r.recovery.len().to_string(),
            format!("{:.1}", r.recovery[0].killed_at_s),
            r.recovery
                .windows(2)
                .filter(|pair| pair[1].killed_at_s - pair[0].restarted_at_s <= 1.0)
                .count()
                .to_string(),
            format!("{} of {}", times.len(), r.recovery.len()),
            at(50.0),
            at(99.0),
            at(100.0),
            r.recovery
                .iter()
                .map(|k| k.lag_before_records)
                .max()
                .unwrap_or(0)
                .to_string(),
            r.recovery
                .iter()
                .map(|k| k.peak_lag_records)
                .max()
                .unwrap_or(0)
                .to_string(),
            r.check.duplicate_rows.to_string(),
            r.check.lost_events.to_string(),
        ]);
    }
    table
}

/// The `p`th percentile of ascending `sorted` by nearest rank.
fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

pub(crate) fn groups_table(results: &Results) -> Table {
    let mut table = Table::new(&[
        "setting",
        ">runs",
        ">exact",
        ">event-time p50 ms",
        ">p99 ms",
        ">engine/s",
        ">CPU s / M events",
        ">events/s per core",
        ">sustained/s",
        "against checkpoints off",
    ]);
    for g in &results.groups {
        let cost = g.against_checkpoints_off.as_ref().map_or(String::new(), |c| {
            let ratio = |r: Option<f64>| r.map_or("-".into(), |r| format!("x{r:.3}"));
            let delta = |d: Option<f64>| d.map_or("-".into(), |d| format!("{d:+.0} ms"));
            format!(
                "throughput {}, CPU/event {}, p50 {}, p99 {}",
                ratio(c.throughput_ratio),
                ratio(c.cpu_ratio),
                delta(c.p50_difference_ms),
                delta(c.p99_difference_ms)
            )
        });
        table.row(vec![
            g.label.clone(),
            g.runs.to_string(),
            g.passed.to_string(),
            spread(g.p50_ms),
            spread(g.p99_ms),
            spread(g.engine_records_per_s),
            g.engine_cpu_s_per_million_events
                .map_or("-".into(), |s| format!("{:.1}", s.median)),
            per_core(
                g.engine_cpu_s_per_million_events
                    .and_then(|s| (s.median > 0.0).then(|| 1e6 / s.median)),
            ),
            spread(g.sustained_per_s),
            cost,
        ]);
    }
    table
}

/// The whole report: context, summary, per-job tables and the decision guide.
pub fn report(results: &Results) -> String {
    let c = &results.context;
    let mut out = format!("# streambench: {}\n\n", c.suite_name);
    let verdict = crate::verdict::markdown(results);
    let faults = crate::resilience::markdown(results);
    let unjudged = crate::verdict::unjudged(results).filter(|_| verdict.is_empty() && faults.is_empty());
    if !verdict.is_empty() || !faults.is_empty() || unjudged.is_some() {
        out.push_str("## Verdict\n\n");
    }
    if let Some(why) = unjudged {
        let _ = write!(out, "{why}\n\n");
    }
    if !verdict.is_empty() {
        out.push_str(&verdict);
        out.push_str(VERDICT_CAVEAT);
        let skipped = skipped_note(results);
        if !skipped.is_empty() {
            let _ = write!(out, "\n\n{skipped}");
        }
        out.push_str("\n\n");
    }
    out.push_str(&faults);
    let watermark = crate::watermark::markdown(results);
    if !watermark.is_empty() {
        let _ = write!(
            out,
            "## Watermark trade-off\n\n{WATERMARK_CAVEAT}\n\n{watermark}\n"
        );
    }
    let scaling = crate::scaling::markdown(results);
    if !scaling.is_empty() {
        let _ = write!(
            out,
            "## Scaling\n\n{}\n\n{scaling}\n",
            crate::scaling::caveat(results)
        );
    }
    if !verdict.is_empty() || !watermark.is_empty() || !faults.is_empty() || !scaling.is_empty() {
        out.push_str("## Run\n\n");
    }
    out.push_str(&context_table(results).render());
    out.push_str("\n## Scenarios\n\n");
    out.push_str(&summary(results));
    for job in jobs(results) {
        let _ = write!(out, "\n## Job `{job}`\n\n");
        if let Some(declared) = declaration(results, &job) {
            let _ = write!(out, "Declared in the suite: {declared}.\n\n");
        }
        out.push_str(&job_table(results, &job).render());
    }
    out.push_str("\n## Decision guide\n\n");
    out.push_str(&decision_guide(results));
    out
}

/// Where and how the run happened.
pub(crate) fn context_table(results: &Results) -> Table {
    let c = &results.context;
    let mut context = Table::new(&["", ""]);
    let events = match &c.replayed_from {
        Some(file) => ("events", format!("replayed from {file}")),
        None => ("seed", c.seed.to_string()),
    };
    for (what, value) in [
        ("suite", format!("{} (hash {})", c.suite_file, c.suite_hash)),
        events,
        ("started", c.started_at.clone()),
        (
            "streambench",
            format!(
                "{} ({})",
                c.streambench_version,
                c.git_commit.as_deref().unwrap_or("unknown commit")
            ),
        ),
        ("machine", format!("{}, {} cores, {}", c.cpu_model, c.cores, c.os)),
        ("CPU pinning", c.cpu_pinning.clone()),
        ("Kafka", c.brokers.clone()),
        ("PostgreSQL", c.postgres_version.clone()),
    ] {
        context.row(vec![what.to_string(), value]);
    }
    context
}

/// The jobs of a run, in first-run order.
/// A declared job's description, from its first scenario; none for a
/// catalogue job.
pub(crate) fn declaration(results: &Results, job: &str) -> Option<String> {
    let spec = &results
        .scenarios
        .iter()
        .find(|r| r.scenario.job.name == job)?
        .scenario
        .job;
    spec.declared.as_ref().map(|d| d.job.describe())
}

pub(crate) fn jobs(results: &Results) -> Vec<String> {
    let mut jobs: Vec<String> = Vec::new();
    for r in &results.scenarios {
        if !jobs.contains(&r.scenario.job.name) {
            jobs.push(r.scenario.job.name.clone());
        }
    }
    jobs
}

/// Per engine and delivery mode: median latency and CPU of the runs without
/// a fault, the highest sustained rate, and what restarts cost.
pub(crate) fn job_table(results: &Results, job: &str) -> Table {
    let mut table = Table::new(&[
        "engine",
        "delivery",
        ">runs",
        ">event-time p50 ms",
        ">p99 ms",
        ">p99.9 ms",
        ">sustained/s",
        ">CPU s / M events",
        ">events/s per core",
        ">duplicates after faults",
        ">lost",
        ">dead letters",
        "checkpoint overhead",
        "oracle",
    ]);
    let mut settings: Vec<(EngineName, String)> = Vec::new();
    for r in results.scenarios.iter().filter(|r| r.scenario.job.name == job) {
        let key = (r.scenario.engine, r.scenario.delivery.as_str().to_string());
        if !settings.contains(&key) {
            settings.push(key);
        }
    }
    for (engine, delivery) in settings {
        let runs: Vec<&ScenarioResult> = results
            .scenarios
            .iter()
            .filter(|r| r.scenario.is_setting(job, engine, &delivery))
            .collect();
        let ok: Vec<&ScenarioResult> = runs.iter().copied().filter(|r| r.error.is_none()).collect();
        // Latency and CPU from the runs without a fault: a kill's stall is
        // in the restarts table, not in the engine's steady figures.
        let median = |f: &dyn Fn(&ScenarioResult) -> Option<f64>| {
            Spread::of(
                ok.iter()
                    .filter(|r| r.scenario.fault == FaultPlan::None)
                    .filter_map(|r| f(r)),
            )
            .map(|s| s.median)
        };
        let sustained = results.sustained_rates(job, engine, &delivery);
        let killed: Vec<&ScenarioResult> = ok.iter().copied().filter(|r| !r.recovery.is_empty()).collect();
        let exact = runs.iter().filter(|r| r.passed).count();
        let overhead = checkpoint_overhead(results, job, engine, &delivery);
        table.row(vec![
            engine.as_str().to_string(),
            delivery,
            runs.len().to_string(),
            ms(median(&|r| r.event_time_latency.at(50.0))),
            ms(median(&|r| r.event_time_latency.at(99.0))),
            ms(median(&|r| r.event_time_latency.at(99.9))),
            spread(Spread::of(sustained)),
            median(&|r| {
                let v = r.resources.engine_cpu_s_per_million_events;
                (v > 0.0).then_some(v)
            })
            .map_or("-".into(), |v| format!("{v:.1}")),
            per_core(median(&|r| r.resources.events_per_core_s())),
            if killed.is_empty() {
                "-".into()
            } else {
                killed
                    .iter()
                    .map(|r| r.check.duplicate_rows)
                    .sum::<u64>()
                    .to_string()
            },
            ok.iter().map(|r| r.check.lost_events).sum::<u64>().to_string(),
            ok.iter().map(|r| r.check.dead_lettered).sum::<u64>().to_string(),
            overhead,
            format!("{exact} of {} exact", runs.len()),
        ]);
    }
    table
}

/// What checkpoints cost this setting against none, per interval the suite
/// ran (medians over repetitions); `-` when it ran no baseline.
fn checkpoint_overhead(results: &Results, job: &str, engine: EngineName, delivery: &str) -> String {
    let cells: Vec<String> = results
        .groups
        .iter()
        .filter_map(|g| {
            let cost = g.against_checkpoints_off.as_ref()?;
            let first = results
                .scenarios
                .iter()
                .find(|r| Some(&r.scenario.number) == g.scenarios.first())?;
            let s = &first.scenario;
            (s.is_setting(job, engine, delivery) && s.fault == FaultPlan::None).then_some(())?;
            let interval = s.checkpoint_interval_ms? as f64 / 1000.0;
            let cpu = cost.cpu_ratio.map_or("-".into(), |r| format!("x{r:.2}"));
            let p99 = cost
                .p99_difference_ms
                .map_or("-".into(), |d| format!("{d:+.0} ms"));
            Some(format!("every {interval} s: CPU {cpu}, p99 {p99}"))
        })
        .collect();
    if cells.is_empty() {
        "-".into()
    } else {
        cells.join("; ")
    }
}

/// For each job and engine: the highest rate at which p99 of the delay
/// beyond the watermark met each target (and the engine kept up), with its CPU cost; then what each
/// delivery mode cost against upsert. Only what was measured is said.
pub fn decision_guide(results: &Results) -> String {
    let mut out = String::new();
    for section in guide_sections(results) {
        let _ = writeln!(out, "### `{}`\n", section.job);
        out.push_str(&section.targets.render());
        for tradeoff in &section.tradeoffs {
            let _ = write!(out, "\n{tradeoff}\n");
        }
        out.push('\n');
    }
    out.push_str(GUIDE_CAVEAT);
    out.push('\n');
    out
}

/// What the verdict's figures mean, said once under it.
pub(crate) const VERDICT_CAVEAT: &str = "Judged on p99 of each window's delay beyond the watermark (the commit time of its \
     row minus its end and the job's watermark delay) or, for a per-event job, of each row's latency after arrival \
     (its commit time minus the time the event reached the broker by the generator's schedule), over runs without \
     faults that kept up and equalled the oracle; \
     repetitions of a setting at a rate count by their median. Cores per 100k ev/s is the engine's CPU per event \
     times 100,000 events/s. A higher rate may also meet a target if the suite did not try it.";

/// What the watermark trade-off measures, said once above it.
pub(crate) const WATERMARK_CAVEAT: &str = "Each watermark delay as the suite swept it: the share of the events the job \
     keeps that the engine counted rather than dropped as late (exact, from the oracle's late-event accounting), against \
     the p99 event-time latency of its results, which contains the delay. Runs without faults that kept up and \
     equalled the oracle; repetitions count by their median.";

/// What the guide's rates mean, said once under it.
pub(crate) const GUIDE_CAVEAT: &str = "Rates are the highest measured in this run at which the engine kept up and its results were exact; \
     a higher rate may also meet a target if the suite did not try it.";

/// The decision guide of one job.
pub(crate) struct GuideSection {
    /// The job.
    pub job: String,
    /// Per latency target, per engine: the highest rate that met it.
    pub targets: Table,
    /// What each delivery mode cost against `upsert`, one sentence each.
    pub tradeoffs: Vec<String>,
}

/// The decision guide, one section per job.
pub(crate) fn guide_sections(results: &Results) -> Vec<GuideSection> {
    // The verdict's own answers per engine, so the guide cannot disagree with it.
    let verdicts = crate::verdict::verdicts(results);
    let engines = guide_engines(results);
    jobs(results)
        .into_iter()
        .map(|job| {
            let first = format!("p99 target ({})", crate::verdict::judged_latency(results, &job));
            let mut header: Vec<&str> = vec![first.as_str()];
            header.extend(engines.iter().map(|e| e.as_str()));
            let mut targets = Table::new(&header);
            let verdict = verdicts.iter().find(|v| v.job == job);
            for target in LATENCY_TARGETS_MS {
                let met = verdict.and_then(|v| v.targets.iter().find(|t| t.target_ms == target));
                let mut cells = vec![crate::verdict::target_name(target)];
                for &engine in &engines {
                    let best = met.and_then(|t| t.engine_bests.iter().find(|p| p.engine == engine));
                    cells.push(best.map_or("not met in this run".into(), guide_cell));
                }
                targets.row(cells);
            }
            let tradeoffs = delivery_tradeoff(results, &job);
            GuideSection {
                job,
                targets,
                tradeoffs,
            }
        })
        .collect()
}

/// The engines the guide compares: streambench's two, and any other the run had.
fn guide_engines(results: &Results) -> Vec<EngineName> {
    let mut engines = vec![EngineName::CONTINUOUS, EngineName::MICROBATCH];
    for r in &results.scenarios {
        if !engines.contains(&r.scenario.engine) {
            engines.push(r.scenario.engine);
        }
    }
    engines
}

/// A guide cell: the highest rate at which a setting of the engine met
/// the target, with its CPU per million events.
fn guide_cell(point: &crate::verdict::Point) -> String {
    match point.cores_per_100k {
        // Cores at 100,000 events/s are CPU seconds per million events over ten.
        Some(cores) => format!(
            "up to {:.0} events/s ({:.1} CPU s / M events)",
            point.rate_per_s,
            cores * 10.0
        ),
        None => format!("up to {:.0} events/s", point.rate_per_s),
    }
}

/// What each delivery mode cost against `upsert`, per engine: in highest
/// sustained rate where the run searched for it, and in CPU per event.
fn delivery_tradeoff(results: &Results, job: &str) -> Vec<String> {
    let mut out = Vec::new();
    for engine in guide_engines(results) {
        let of_setting = |r: &ScenarioResult, delivery: &str| {
            r.scenario.is_setting(job, engine, delivery)
                && r.error.is_none()
                && r.scenario.fault == FaultPlan::None
        };
        let cpu = |delivery: &str| {
            Spread::of(
                results
                    .scenarios
                    .iter()
                    .filter(|r| of_setting(r, delivery))
                    .map(|r| r.resources.engine_cpu_s_per_million_events)
                    .filter(|v| *v > 0.0),
            )
            .map(|s| s.median)
        };
        let sustained =
            |delivery: &str| Spread::of(results.sustained_rates(job, engine, delivery)).map(|s| s.median);
        for delivery in ["insert", "transactional"] {
            if let (Some(other), Some(upsert)) = (sustained(delivery), sustained("upsert")) {
                out.push(format!(
                    "{}: `{delivery}` sustained {:.2}x the rate of `upsert` ({other:.0} against {upsert:.0} events/s).",
                    engine.as_str(),
                    other / upsert
                ));
            }
            if let (Some(other), Some(upsert)) = (cpu(delivery), cpu("upsert")) {
                out.push(format!(
                    "{}: `{delivery}` used {:.2}x the CPU per event of `upsert` ({other:.1} against {upsert:.1} CPU s / M events).",
                    engine.as_str(),
                    other / upsert
                ));
            }
        }
    }
    out
}
