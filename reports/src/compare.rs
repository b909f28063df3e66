//! Two runs compared: settings matched by label, each figure's change with
//! its better direction, and only changes beyond the noise threshold
//! flagged, so `streambench compare --fail-on-regression` can guard another
//! project's CI.

use serde::Serialize;

use crate::results::{GroupSummary, Results, Spread};
use crate::table::Table;

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Latency, CPU.
    Lower,
    /// Throughput, exact runs.
    Higher,
}

/// What a change amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Movement {
    /// Better, beyond the noise.
    Improved,
    /// Worse, beyond the noise.
    Regressed,
    /// Within the noise.
    Unchanged,
}

/// One figure of one setting in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The setting (group label).
    pub setting: String,
    /// The figure.
    pub metric: &'static str,
    /// In the base run (median over repetitions).
    pub base: f64,
    /// In the new run.
    pub new: f64,
    /// (new - base) / base, in percent.
    pub change_pct: f64,
    /// Which way is better.
    pub better: Better,
    /// Beyond the noise, and which way.
    pub movement: Movement,
}

/// Two runs compared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    /// Every figure present in both runs, setting by setting.
    pub changes: Vec<Change>,
    /// Settings in only one of the runs.
    pub unmatched: Vec<String>,
}

impl Comparison {
    /// The figures that got worse beyond the noise.
    pub fn regressions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.movement == Movement::Regressed)
    }

    /// The comparison as Markdown: flagged changes first, then the rest.
    pub fn render(&self, noise_pct: f64) -> String {
        let mut table = Table::new(&["", "setting", "metric", ">base", ">new", ">change", "better"]);
        let mut ordered: Vec<&Change> = self.changes.iter().collect();
        ordered.sort_by_key(|c| match c.movement {
            Movement::Regressed => 0,
            Movement::Improved => 1,
            Movement::Unchanged => 2,
        });
        for c in ordered {
            table.row(vec![
                match c.movement {
                    Movement::Regressed => "REGRESSED".into(),
                    Movement::Improved => "improved".into(),
                    Movement::Unchanged => String::new(),
                },
                c.setting.clone(),
                c.metric.to_string(),
                format!("{:.1}", c.base),
                format!("{:.1}", c.new),
                format!("{:+.1}%", c.change_pct),
                match c.better {
                    Better::Lower => "lower".into(),
                    Better::Higher => "higher".into(),
                },
            ]);
        }
        let mut out = format!(
            "{} regressed, {} improved beyond {noise_pct}% noise, {} within it.\n\n",
            self.regressions().count(),
            self.changes
                .iter()
                .filter(|c| c.movement == Movement::Improved)
                .count(),
            self.changes
                .iter()
                .filter(|c| c.movement == Movement::Unchanged)
                .count()
        );
        out.push_str(&table.render());
        if !self.unmatched.is_empty() {
            out.push_str(&format!("\nIn one run only: {}\n", self.unmatched.join("; ")));
        }
        out
    }
}

/// The figures compared, per setting: medians over repetitions.
fn figures(group: &GroupSummary) -> Vec<(&'static str, Option<Spread>, Better)> {
    let exact = Spread::of([group.passed as f64 / group.runs.max(1) as f64 * 100.0]);
    vec![
        ("p50 latency ms", group.p50_ms, Better::Lower),
        ("p99 latency ms", group.p99_ms, Better::Lower),
        ("max latency ms", group.max_ms, Better::Lower),
        ("engine records/s", group.engine_records_per_s, Better::Higher),
        (
            "CPU s per M events",
            group.engine_cpu_s_per_million_events,
            Better::Lower,
        ),
        ("sustained events/s", group.sustained_per_s, Better::Higher),
        ("exact runs %", exact, Better::Higher),
    ]
}

/// Compares `new` with `base`; a change beyond `noise_pct` percent of the
/// base value is flagged.
pub fn compare(base: &Results, new: &Results, noise_pct: f64) -> Comparison {
    let mut comparison = Comparison::default();
    for group in &base.groups {
        let Some(other) = new.groups.iter().find(|g| g.label == group.label) else {
            comparison.unmatched.push(format!("{} (base)", group.label));
            continue;
        };
        for ((metric, before, better), (_, after, _)) in figures(group).into_iter().zip(figures(other)) {
            let (Some(before), Some(after)) = (before, after) else {
                continue;
            };
            let (b, a) = (before.median, after.median);
            let change_pct = if b == 0.0 {
                if a == 0.0 { 0.0 } else { 100.0 * a.signum() }
            } else {
                (a - b) / b.abs() * 100.0
            };
            let worse = match better {
                Better::Lower => change_pct > 0.0,
                Better::Higher => change_pct < 0.0,
            };
            let movement = if change_pct.abs() <= noise_pct {
                Movement::Unchanged
            } else if worse {
                Movement::Regressed
            } else {
                Movement::Improved
            };
            comparison.changes.push(Change {
                setting: group.label.clone(),
                metric,
                base: b,
                new: a,
                change_pct,
                better,
                movement,
            });
        }
    }
    for group in &new.groups {
        if !base.groups.iter().any(|g| g.label == group.label) {
            comparison.unmatched.push(format!("{} (new)", group.label));
        }
    }
    comparison
}
