//! Turns a run's results into what people read: Markdown and self-contained
//! HTML reports with charts, and comparisons between two runs.
