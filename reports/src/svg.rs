//! Charts drawn as inline SVG with plotters: line charts (linear, log or
//! percentile axes, with vertical markers for events such as a kill) and
//! grouped bar charts. Every chart has a title, axis labels with units and
//! a legend; text is left to the browser's sans-serif font.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Colours that stay distinct for colour-blind readers (Okabe and Ito),
/// without the yellow that vanishes on white, and a brown in its place as
/// the eighth: a frontier of both engines' six settings and two peers
/// draws every one.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0x8C, 0x56, 0x4B),
];

/// The colour of series number `index`.
fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

const SIZE: (u32, u32) = (860, 520);

/// Pixels of plot height a legend takes: its border and padding, then each entry.
const LEGEND_PADDING_PX: f64 = 24.0;
/// See [`LEGEND_PADDING_PX`].
const LEGEND_ENTRY_PX: f64 = 18.0;
/// Pixels of the drawing's height the plot area gets (the caption and the
/// x axis take the rest).
const PLOT_HEIGHT_PX: f64 = 410.0;

/// How much to extend a vertical axis above the data, as a share of the
/// data's span, so that a legend of `entries` entries in the upper left
/// never covers it.
fn legend_room(entries: usize) -> f64 {
    let share = ((LEGEND_PADDING_PX + LEGEND_ENTRY_PX * entries as f64) / PLOT_HEIGHT_PX).min(0.7);
    (share / (1.0 - share)).max(0.35)
}

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart \"{title}\": {reason}")]
pub struct ChartError {
    title: String,
    reason: String,
}

/// How an axis maps values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// Evenly spaced values.
    Linear,
    /// Decades evenly spaced (values must be positive).
    Log,
    /// Percentiles spread by their nines: p90, p99 and p99.9 evenly spaced.
    Percentile,
    /// Shares of a whole spread by their nines, as `Percentile` is, and
    /// labelled as shares: 90 %, 99 % and 99.9 % evenly spaced.
    Share,
}

impl Scale {
    fn position_of(self, value: f64) -> f64 {
        match self {
            Scale::Linear => value,
            Scale::Log => value.max(1e-9).log10(),
            Scale::Percentile | Scale::Share => -(1.0 - (value / 100.0).min(0.999_999)).log10(),
        }
    }

    fn value_at(self, position: f64) -> f64 {
        match self {
            Scale::Linear => position,
            Scale::Log => 10f64.powf(position),
            Scale::Percentile | Scale::Share => 100.0 * (1.0 - 10f64.powf(-position)),
        }
    }

    /// The axis range (in axis units) holding `values`, with room above
    /// them for a legend of `legend_entries`, and its ticks.
    fn range_and_ticks(
        self,
        values: impl Iterator<Item = f64>,
        legend_entries: usize,
    ) -> (std::ops::Range<f64>, Vec<f64>) {
        let (range, ticks) = self.tight_range_and_ticks(values);
        let high = range.end + legend_room(legend_entries) * (range.end - range.start);
        (range.start..high, ticks)
    }

    /// The axis range (in axis units) holding `values`, and its ticks.
    fn tight_range_and_ticks(self, values: impl Iterator<Item = f64>) -> (std::ops::Range<f64>, Vec<f64>) {
        let (mut low, mut high) = values
            .filter(|v| v.is_finite() && (self != Scale::Log || *v > 0.0))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if !low.is_finite() {
            (low, high) = (1.0, 10.0);
        }
        match self {
            Scale::Linear => {
                let low = low.min(0.0);
                let high = if high <= low { low + 1.0 } else { high * 1.05 };
                let step = nice_step((high - low) / 6.0);
                let ticks = (0..)
                    .map(|i| (low / step).floor() * step + i as f64 * step)
                    .take_while(|t| *t <= high)
                    .filter(|t| *t >= low)
                    .collect();
                (low..high, ticks)
            }
            Scale::Log => {
                let (low, high) = (
                    low.log10().floor(),
                    high.log10().ceil().max(low.log10().floor() + 1.0),
                );
                let decades = (high - low) as i32;
                let multiples: &[f64] = if decades > 4 { &[1.0] } else { &[1.0, 2.0, 5.0] };
                let ticks = (low as i32..=high as i32)
                    .flat_map(|d| multiples.iter().map(move |m| (m * 10f64.powi(d)).log10()))
                    .filter(|t| *t <= high + 1e-9)
                    .collect();
                (low..high, ticks)
            }
            Scale::Percentile | Scale::Share => {
                let high = self.position_of(high).ceil().max(2.0);
                let ticks = std::iter::once(self.position_of(50.0))
                    .chain((1..=high as i32).map(f64::from))
                    .collect();
                (0.0..high + 0.1, ticks)
            }
        }
    }

    fn label(self, position: f64) -> String {
        let value = self.value_at(position);
        match self {
            Scale::Percentile | Scale::Share => {
                let text = format!("{:.4}", value);
                let number = text.trim_end_matches('0').trim_end_matches('.');
                if self == Scale::Share {
                    format!("{number} %")
                } else {
                    format!("p{number}")
                }
            }
            _ => short_number(value),
        }
    }
}

/// The smallest of 1, 2 and 5 times a power of ten that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// `1500000` as `1.5M`, `20000` as `20k`, `0.25` as `0.25`.
pub fn short_number(value: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("{}M", trim(format!("{:.2}", value / 1e6)))
    } else if magnitude >= 1e3 {
        format!("{}k", trim(format!("{:.1}", value / 1e3)))
    } else if magnitude >= 10.0 || magnitude == 0.0 {
        trim(format!("{value:.0}"))
    } else {
        trim(format!("{value:.2}"))
    }
}

/// An axis: what it shows, with its unit, and how it maps values.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The label, with the unit: `latency (ms)`.
    pub label: String,
    /// How values are spaced.
    pub scale: Scale,
}

impl Axis {
    /// An axis labelled `label` on `scale`.
    pub fn new(label: &str, scale: Scale) -> Axis {
        Axis {
            label: label.to_string(),
            scale,
        }
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// A line through the points, each point marked.
    LineAndPoints,
    /// A line only (for dense series).
    Line,
    /// A dashed line (a reference, such as read = offered).
    Dashed,
    /// Large triangles only (a point to notice, such as the sustained rate).
    Highlight,
}

/// One named series of points, in data units.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's text (a dashed series without one has no entry, to
    /// share another's: several reference lines, one entry).
    pub name: String,
    /// The points, in the order drawn.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub mark: Mark,
    /// Its colour, as an index into the palette.
    pub colour: usize,
}

/// A vertical line at one moment, such as a kill.
#[derive(Debug, Clone)]
pub struct Marker {
    /// Where, in x units.
    pub x: f64,
    /// The legend's text (markers with the same text share one entry).
    pub name: String,
    /// Its colour, as an index into the palette.
    pub colour: usize,
}

/// A chart of lines and points.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// The title above it.
    pub title: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The series.
    pub series: Vec<Series>,
    /// Vertical markers.
    pub markers: Vec<Marker>,
}

/// A chart of bars in groups: one group per category, one bar per series.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// The title above it.
    pub title: String,
    /// What the categories are, with a unit if any.
    pub x_label: String,
    /// The categories, left to right.
    pub categories: Vec<String>,
    /// The vertical axis (linear).
    pub y_label: String,
    /// Per series: its name and one value per category.
    pub series: Vec<(String, Vec<f64>)>,
}

/// A linear axis in axis units with the ticks chosen here, so log and
/// percentile axes get round values and bar charts one tick per category.
#[derive(Debug, Clone)]
struct Ticked {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = (self.range.end - self.range.start).max(f64::EPSILON);
        let fraction = (value - self.range.start) / span;
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

type Axis2d = Cartesian2d<Ticked, Ticked>;

fn error(title: &str, reason: impl std::fmt::Display) -> ChartError {
    ChartError {
        title: title.to_string(),
        reason: reason.to_string(),
    }
}

/// Sets up the drawing: background, title, axes with their ticks and
/// labels; `draw` adds the data; then the legend.
fn draw_on(
    title: &str,
    (x_range, x_ticks, x_label): (std::ops::Range<f64>, Vec<f64>, &dyn Fn(f64) -> String),
    (y_range, y_ticks, y_label): (std::ops::Range<f64>, Vec<f64>, &dyn Fn(f64) -> String),
    (x_desc, y_desc): (&str, &str),
    draw: impl FnOnce(&mut ChartContext<'_, SVGBackend<'_>, Axis2d>) -> Result<(), String>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| error(title, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(72)
            .build_cartesian_2d(
                Ticked {
                    range: x_range,
                    ticks: x_ticks,
                },
                Ticked {
                    range: y_range,
                    ticks: y_ticks,
                },
            )
            .map_err(|e| error(title, e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v| x_label(*v))
            .y_label_formatter(&|v| y_label(*v))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xE4, 0xE4, 0xE4))
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(|e| error(title, e))?;
        draw(&mut chart).map_err(|e| error(title, e))?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(0xB0, 0xB0, 0xB0))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| error(title, e))?;
        root.present().map_err(|e| error(title, e))?;
    }
    Ok(svg)
}

/// The entries of `chart`'s legend: its named series and its markers' names.
fn legend_entries(chart: &LineChart) -> usize {
    let mut markers: Vec<&str> = chart.markers.iter().map(|m| m.name.as_str()).collect();
    markers.sort_unstable();
    markers.dedup();
    chart.series.iter().filter(|s| !s.name.is_empty()).count() + markers.len()
}

/// Draws `chart` as an SVG document.
pub fn line_chart(chart: &LineChart) -> Result<String, ChartError> {
    let (xs, ys) = (chart.x.scale, chart.y.scale);
    let all_x = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(chart.markers.iter().map(|m| m.x));
    let (x_range, x_ticks) = xs.tight_range_and_ticks(all_x);
    let (y_range, y_ticks) = ys.range_and_ticks(
        chart.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        legend_entries(chart),
    );
    let (y_low, y_high) = (y_range.start, y_range.end);
    draw_on(
        &chart.title,
        (x_range, x_ticks, &|v| xs.label(v)),
        (y_range, y_ticks, &|v| ys.label(v)),
        (&chart.x.label, &chart.y.label),
        |area| {
            let e = |e: DrawingAreaErrorKind<_>| e.to_string();
            for series in &chart.series {
                let style = colour(series.colour);
                let points: Vec<(f64, f64)> = series
                    .points
                    .iter()
                    .filter(|(x, y)| x.is_finite() && y.is_finite() && (ys != Scale::Log || *y > 0.0))
                    .map(|(x, y)| (xs.position_of(*x), ys.position_of(*y)))
                    .collect();
                let legend_line = move |(x, y): (i32, i32)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], style.stroke_width(2))
                };
                match series.mark {
                    Mark::LineAndPoints | Mark::Line => {
                        area.draw_series(LineSeries::new(points.clone(), style.stroke_width(2)))
                            .map_err(e)?
                            .label(&series.name)
                            .legend(legend_line);
                        if series.mark == Mark::LineAndPoints {
                            area.draw_series(points.iter().map(|p| Circle::new(*p, 3, style.filled())))
                                .map_err(e)?;
                        }
                    }
                    Mark::Dashed => {
                        let drawn = area
                            .draw_series(DashedLineSeries::new(points, 6, 4, style.stroke_width(1)))
                            .map_err(e)?;
                        if !series.name.is_empty() {
                            drawn.label(&series.name).legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 18, y)], style.stroke_width(1))
                            });
                        }
                    }
                    Mark::Highlight => {
                        area.draw_series(points.iter().map(|p| TriangleMarker::new(*p, 8, style.filled())))
                            .map_err(e)?
                            .label(&series.name)
                            .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 6, style.filled()));
                    }
                }
            }
            let mut named: Vec<&str> = Vec::new();
            for marker in &chart.markers {
                let style = colour(marker.colour);
                let x = xs.position_of(marker.x);
                let drawn = area
                    .draw_series(DashedLineSeries::new(
                        vec![(x, y_low), (x, y_high)],
                        5,
                        3,
                        style.stroke_width(2),
                    ))
                    .map_err(e)?;
                if !named.contains(&marker.name.as_str()) {
                    named.push(&marker.name);
                    drawn.label(&marker.name).legend(move |(x, y)| {
                        PathElement::new(vec![(x + 9, y - 6), (x + 9, y + 6)], style.stroke_width(2))
                    });
                }
            }
            Ok(())
        },
    )
}

/// Draws `chart` as an SVG document.
pub fn bar_chart(chart: &BarChart) -> Result<String, ChartError> {
    let n = chart.categories.len();
    let x_range = -0.5..(n as f64 - 0.5).max(0.5);
    let x_ticks: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let (y_range, y_ticks) = Scale::Linear.range_and_ticks(
        chart.series.iter().flat_map(|s| s.1.iter().copied()),
        chart.series.len(),
    );
    let categories = &chart.categories;
    let category = |v: f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            categories.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let width = 0.8 / chart.series.len().max(1) as f64;
    draw_on(
        &chart.title,
        (x_range, x_ticks, &category),
        (y_range, y_ticks, &|v| Scale::Linear.label(v)),
        (&chart.x_label, &chart.y_label),
        |area| {
            for (s, (name, values)) in chart.series.iter().enumerate() {
                let style = colour(s);
                let bars = values.iter().enumerate().map(|(i, v)| {
                    let left = i as f64 - 0.4 + s as f64 * width;
                    Rectangle::new([(left, 0.0), (left + width * 0.92, *v)], style.filled())
                });
                area.draw_series(bars)
                    .map_err(|e| e.to_string())?
                    .label(name)
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], style.filled()));
                // The value above each bar, so that a zero reads as one.
                let above = TextStyle::from(("sans-serif", 12)).pos(Pos::new(HPos::Center, VPos::Bottom));
                let labels = values.iter().enumerate().map(|(i, v)| {
                    let centre = i as f64 - 0.4 + (s as f64 + 0.46) * width;
                    let exact = v.fract() == 0.0 && v.abs() < 1e7;
                    let text = if exact {
                        format!("{v:.0}")
                    } else {
                        short_number(*v)
                    };
                    Text::new(text, (centre, *v), above.clone())
                });
                area.draw_series(labels).map_err(|e| e.to_string())?;
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(short_number(1_500_000.0), "1.5M");
        assert_eq!(short_number(20_000.0), "20k");
        assert_eq!(short_number(250.0), "250");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(0.0), "0");
    }

    #[test]
    fn percentile_ticks_are_the_nines() {
        let (_, ticks) = Scale::Percentile.range_and_ticks([50.0, 99.99].into_iter(), 1);
        let labels: Vec<String> = ticks.iter().map(|t| Scale::Percentile.label(*t)).collect();
        assert_eq!(labels, ["p50", "p90", "p99", "p99.9", "p99.99"]);
    }

    #[test]
    fn share_ticks_are_the_nines_as_shares() {
        let (_, ticks) = Scale::Share.range_and_ticks([98.4, 99.95].into_iter(), 1);
        let labels: Vec<String> = ticks.iter().map(|t| Scale::Share.label(*t)).collect();
        assert_eq!(labels, ["50 %", "90 %", "99 %", "99.9 %", "99.99 %"]);
    }

    #[test]
    fn log_ticks_cover_the_values_in_decades() {
        let (range, ticks) = Scale::Log.tight_range_and_ticks([3.0, 4_000.0].into_iter());
        assert_eq!((range.start, range.end), (0.0, 4.0));
        let labels: Vec<String> = ticks.iter().map(|t| Scale::Log.label(*t)).collect();
        assert_eq!(
            labels,
            [
                "1", "2", "5", "10", "20", "50", "100", "200", "500", "1k", "2k", "5k", "10k"
            ]
        );
    }

    #[test]
    fn linear_ticks_are_round_numbers_from_zero() {
        let (range, ticks) = Scale::Linear.range_and_ticks([120.0, 930.0].into_iter(), 1);
        assert_eq!(range.start, 0.0);
        assert_eq!(ticks.first(), Some(&0.0));
        assert!(
            ticks.windows(2).all(|w| (w[1] - w[0] - 200.0).abs() < 1e-9),
            "{ticks:?}"
        );
    }

    #[test]
    fn a_chart_is_one_svg_with_its_title_and_axis_labels() {
        let svg = line_chart(&LineChart {
            title: "Lag over time".into(),
            x: Axis::new("time since start (s)", Scale::Linear),
            y: Axis::new("lag (s)", Scale::Linear),
            series: vec![Series {
                name: "continuous".into(),
                points: vec![(0.0, 0.0), (1.0, 2.0), (2.0, 0.5)],
                mark: Mark::Line,
                colour: 0,
            }],
            markers: vec![Marker {
                x: 1.0,
                name: "kill".into(),
                colour: 5,
            }],
        })
        .expect("drawn");
        assert_eq!(svg.matches("<svg").count(), 1);
        for text in [
            "Lag over time",
            "time since start (s)",
            "lag (s)",
            "continuous",
            "kill",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
    }
}
