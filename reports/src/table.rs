//! Markdown tables padded to their widest cell, so the same text reads well
//! rendered and in a terminal.

/// A table: a header row and rows of cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    right_aligned: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; a header starting with `>` is
    /// right-aligned (numbers), the `>` is not shown.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers
                .iter()
                .map(|h| h.trim_start_matches('>').to_string())
                .collect(),
            right_aligned: headers.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty, extra ones dropped).
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table in Markdown.
    pub fn render(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| c.replace('|', "\\|")).collect())
            .collect();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                rows.iter()
                    .map(|r| r[c].chars().count())
                    .chain([self.headers[c].chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    if self.right_aligned[c] {
                        format!("{cell:>width$}", width = widths[c])
                    } else {
                        format!("{cell:<width$}", width = widths[c])
                    }
                })
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let mut out = line(&self.headers);
        let rule: Vec<String> = widths
            .iter()
            .zip(&self.right_aligned)
            .map(|(w, right)| {
                if *right {
                    format!("{}:", "-".repeat(w - 1))
                } else {
                    "-".repeat(*w)
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &rows {
            out.push_str(&line(row));
        }
        out
    }

    /// The table in HTML, numbers right-aligned (class `n`).
    pub fn render_html(&self) -> String {
        let cell = |tag: &str, c: usize, text: &str| {
            let class = if self.right_aligned[c] { " class=\"n\"" } else { "" };
            format!("<{tag}{class}>{}</{tag}>", escape_html(text))
        };
        let mut out = String::from("<table>\n");
        // A table of name-value pairs has no headers to show.
        if self.headers.iter().any(|h| !h.is_empty()) {
            out.push_str("<thead><tr>");
            for (c, header) in self.headers.iter().enumerate() {
                out.push_str(&cell("th", c, header));
            }
            out.push_str("</tr></thead>\n");
        }
        out.push_str("<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for (c, text) in row.iter().enumerate() {
                out.push_str(&cell("td", c, text));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

/// `text` with HTML's special characters escaped, for element content and
/// attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_and_numbers_right_aligned() {
        let mut table = Table::new(&["name", ">ms"]);
        table.row(vec!["a|b".into(), "5".into()]);
        table.row(vec!["long name".into(), "1234".into()]);
        assert_eq!(
            table.render(),
            "| name      |   ms |\n| --------- | ---: |\n| a\\|b      |    5 |\n| long name | 1234 |\n"
        );
    }

    #[test]
    fn html_cells_are_escaped_and_numbers_marked() {
        let mut table = Table::new(&["name", ">ms"]);
        table.row(vec!["<a & b>".into(), "5".into()]);
        let html = table.render_html();
        assert!(
            html.contains("<td>&lt;a &amp; b&gt;</td><td class=\"n\">5</td>"),
            "{html}"
        );
        assert!(html.contains("<th class=\"n\">ms</th>"), "{html}");
    }
}
