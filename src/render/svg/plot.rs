//! One chart as an inline SVG string: a plot area with two [`Axis`]es,
//! grid, tick labels, axis titles, data marks (lines, areas, bars, dots,
//! shaded bands) and a legend that wraps below the plot. Colours are CSS
//! classes (`c0`..`c7`, `cok`, `cbad`...) resolved by the page's stylesheet,
//! so one SVG reads in light and dark mode; every mark can carry a
//! `<title>` read-out that browsers show on hover without any script.

use std::fmt::Write;

use super::scale::{Axis, Kind};
use crate::render::escape::push_xml;

/// Width of every chart in SVG units (it scales to the page width).
const WIDTH: f64 = 720.0;
/// Least space left of the plot area for tick labels and the y title
/// (more when the y tick labels are long, as lane names are).
const LEFT: f64 = 64.0;
/// Space right of the plot area.
const RIGHT: f64 = 28.0;
/// Space above the plot area (band and reference-line labels sit in it).
const TOP: f64 = 24.0;
/// Tick labels are clipped to this many characters.
const TICK_CHARS: usize = 16;
/// Estimated width of one character of 12px text.
const CHAR_W: f64 = 6.6;
/// Space below the plot area for tick labels and the x title.
const BOTTOM: f64 = 42.0;
/// Height of one legend row.
const LEGEND_ROW: f64 = 18.0;

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Swatch {
    /// A filled square (bars, areas, dots).
    Fill,
    /// A short line (line series).
    Line,
    /// A dashed line (reference lines).
    Dash,
    /// A hollow circle (probes among dots).
    Ring,
}

/// A chart being drawn; [`Plot::finish`] returns the SVG.
#[derive(Debug)]
pub(crate) struct Plot {
    title: String,
    left: f64,
    x: Axis,
    y: Axis,
    labels: (String, String),
    height: f64,
    x_ticks: Option<Vec<(f64, String)>>,
    body: String,
    legend: Vec<(String, String, Swatch)>,
}

/// A coordinate with one decimal, trailing `.0` dropped.
fn n(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// `<title>` read-out markup (empty tip: none).
fn tip_markup(tip: &str) -> String {
    let mut s = String::new();
    if !tip.is_empty() {
        s.push_str("<title>");
        push_xml(&mut s, tip);
        s.push_str("</title>");
    }
    s
}

impl Plot {
    /// A chart titled `title` (for screen readers; the page shows it as a
    /// caption) with axis titles `x_label` and `y_label` (units included).
    pub(crate) fn new(title: &str, x: Axis, y: Axis, x_label: &str, y_label: &str) -> Plot {
        let widest = y.ticks().iter().map(|(_, l)| l.chars().count().min(TICK_CHARS)).max().unwrap_or(0);
        Plot {
            title: title.to_string(),
            left: LEFT.max(widest as f64 * CHAR_W + 30.0),
            x,
            y,
            labels: (x_label.to_string(), y_label.to_string()),
            height: 260.0,
            x_ticks: None,
            body: String::new(),
            legend: Vec::new(),
        }
    }

    /// Sets the height of the plot and its axes (legend rows come on top).
    pub(crate) fn height(mut self, height: f64) -> Plot {
        self.height = height.max(80.0);
        self
    }

    /// Replaces the x axis' own ticks (client indices, group starts).
    pub(crate) fn x_ticks(mut self, ticks: Vec<(f64, String)>) -> Plot {
        self.x_ticks = Some(ticks);
        self
    }

    /// Horizontal position of data value `v`.
    pub(crate) fn px(&self, v: f64) -> f64 {
        self.left + self.x.frac(v) * (WIDTH - self.left - RIGHT)
    }

    /// Vertical position of data value `v` (lanes run top to bottom).
    pub(crate) fn py(&self, v: f64) -> f64 {
        let (top, bottom) = (TOP, self.height - BOTTOM);
        match self.y.kind {
            Kind::Categories(_) => top + self.y.frac(v) * (bottom - top),
            _ => bottom - self.y.frac(v) * (bottom - top),
        }
    }

    /// Adds a legend entry.
    pub(crate) fn legend(&mut self, label: &str, class: &str, swatch: Swatch) {
        self.legend.push((label.to_string(), class.to_string(), swatch));
    }

    /// A line through `points` (data coordinates).
    pub(crate) fn line(&mut self, points: &[(f64, f64)], class: &str, tip: &str) {
        let pts: Vec<String> = points.iter().map(|&(x, y)| format!("{},{}", n(self.px(x)), n(self.py(y)))).collect();
        let _ = write!(
            self.body,
            r#"<polyline class="ln {class}" points="{}">{}</polyline>"#,
            pts.join(" "),
            tip_markup(tip)
        );
    }

    /// The area between `points` and the bottom of the plot.
    pub(crate) fn area(&mut self, points: &[(f64, f64)], class: &str) {
        let (Some(first), Some(last)) = (points.first(), points.last()) else { return };
        let base = n(self.height - BOTTOM);
        let mut pts = format!("{},{base}", n(self.px(first.0)));
        for &(x, y) in points {
            let _ = write!(pts, " {},{}", n(self.px(x)), n(self.py(y)));
        }
        let _ = write!(pts, " {},{base}", n(self.px(last.0)));
        let _ = write!(self.body, r#"<polygon class="ar {class}" points="{pts}"/>"#);
    }

    /// A rectangle from `x0..x1` and `y0..y1` (data coordinates).
    pub(crate) fn rect(&mut self, (x0, x1): (f64, f64), (y0, y1): (f64, f64), class: &str, tip: &str) {
        let (a, b) = (self.px(x0), self.px(x1));
        let (c, d) = (self.py(y0), self.py(y1));
        let (w, h) = ((b - a).abs().max(0.6), (d - c).abs());
        if h < 0.05 {
            return;
        }
        let _ = write!(
            self.body,
            r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}">{}</rect>"#,
            n(a.min(b)),
            n(c.min(d)),
            n(w),
            n(h),
            tip_markup(tip)
        );
    }

    /// A dot at (`x`, `y`).
    pub(crate) fn dot(&mut self, (x, y): (f64, f64), radius: f64, class: &str, tip: &str) {
        let (cx, cy) = (n(self.px(x)), n(self.py(y)));
        let _ = write!(
            self.body,
            r#"<circle class="{class}" cx="{cx}" cy="{cy}" r="{}">{}</circle>"#,
            n(radius),
            tip_markup(tip)
        );
    }

    /// A band over `x0..x1`, shaded full height when `shaded`, labelled
    /// in the margin above the plot at its left end.
    pub(crate) fn band(&mut self, (x0, x1): (f64, f64), label: &str, shaded: bool) {
        let (a, b) = (self.px(x0), self.px(x1));
        if shaded {
            let h = self.height - BOTTOM - TOP;
            let (w, tip) = (n((b - a).max(1.0)), tip_markup(label));
            let _ = write!(
                self.body,
                r#"<rect class="band" x="{}" y="{TOP}" width="{w}" height="{}">{tip}</rect>"#,
                n(a),
                n(h)
            );
        }
        let _ = write!(self.body, r#"<text class="note" x="{}" y="{}">"#, n(a + 2.0), n(TOP - 7.0));
        push_xml(&mut self.body, label);
        self.body.push_str("</text>");
    }

    /// A dashed horizontal reference line at `y`, labelled at its right end.
    pub(crate) fn hline(&mut self, y: f64, class: &str, label: &str) {
        let (y, x1) = (n(self.py(y)), WIDTH - RIGHT);
        let _ = write!(self.body, r#"<line class="ref {class}" x1="{}" x2="{x1}" y1="{y}" y2="{y}"/>"#, self.left);
        let _ = write!(self.body, r#"<text class="note end" x="{}" y="{y}" dy="-4">"#, n(x1 - 2.0));
        push_xml(&mut self.body, label);
        self.body.push_str("</text>");
    }

    /// A text note at data point (`x`, `y`).
    pub(crate) fn note(&mut self, (x, y): (f64, f64), text: &str) {
        let anchor = if self.x.frac(x) > 0.7 { " end" } else { "" };
        let _ = write!(self.body, r#"<text class="note{anchor}" x="{}" y="{}" dy="-6">"#, n(self.px(x)), n(self.py(y)));
        push_xml(&mut self.body, text);
        self.body.push_str("</text>");
    }

    /// The finished `<svg>` element.
    pub(crate) fn finish(self) -> String {
        let (legend, legend_h) = self.legend_markup();
        let h = self.height + legend_h;
        let mut s = String::with_capacity(self.body.len() + 4096);
        let _ = write!(s, r#"<svg class="chart" viewBox="0 0 {WIDTH} {}" role="img" aria-label=""#, n(h));
        push_xml(&mut s, &self.title);
        s.push_str(r#""><title>"#);
        push_xml(&mut s, &self.title);
        s.push_str("</title>");
        self.grid_markup(&mut s);
        s.push_str(&self.body);
        self.axes_markup(&mut s);
        s.push_str(&legend);
        s.push_str("</svg>");
        s
    }

    /// Grid lines and tick labels of both axes.
    fn grid_markup(&self, s: &mut String) {
        let bottom = self.height - BOTTOM;
        let x_ticks = self.x_ticks.clone().unwrap_or_else(|| self.x.ticks());
        let every = x_ticks.len().div_ceil(12).max(1);
        for (i, (v, label)) in x_ticks.iter().enumerate() {
            let x = n(self.px(*v));
            let _ = write!(s, r#"<line class="grid" x1="{x}" x2="{x}" y1="{TOP}" y2="{}"/>"#, n(bottom));
            if i % every == 0 {
                let _ = write!(s, r#"<text class="tk mid" x="{x}" y="{}">"#, n(bottom + 15.0));
                push_xml(s, label);
                s.push_str("</text>");
            }
        }
        for (v, label) in self.y.ticks() {
            let y = n(self.py(v));
            let _ = write!(s, r#"<line class="grid" x1="{}" x2="{}" y1="{y}" y2="{y}"/>"#, self.left, WIDTH - RIGHT);
            let _ = write!(s, r#"<text class="tk end" x="{}" y="{y}" dy="4">"#, self.left - 6.0);
            push_xml(s, &crate::render::escape::clip(&label, TICK_CHARS));
            s.push_str("</text>");
        }
    }

    /// Axis lines and axis titles.
    fn axes_markup(&self, s: &mut String) {
        let bottom = n(self.height - BOTTOM);
        let _ = write!(s, r#"<path class="ax" d="M{},{TOP}V{bottom}H{}"/>"#, self.left, WIDTH - RIGHT);
        let mid_x = n((self.left + WIDTH - RIGHT) / 2.0);
        let _ = write!(s, r#"<text class="lbl mid" x="{mid_x}" y="{}">"#, n(self.height - 8.0));
        push_xml(s, &self.labels.0);
        let mid_y = n((TOP + self.height - BOTTOM) / 2.0);
        let _ = write!(s, r#"</text><text class="lbl mid" transform="rotate(-90)" x="-{mid_y}" y="14">"#);
        push_xml(s, &self.labels.1);
        s.push_str("</text>");
    }

    /// The legend below the plot and its height.
    fn legend_markup(&self) -> (String, f64) {
        let mut s = String::new();
        let (mut x, mut row) = (self.left, 0usize);
        for (label, class, swatch) in &self.legend {
            let label = crate::render::escape::clip(label, 60);
            let w = 22.0 + CHAR_W * label.chars().count() as f64 + 14.0;
            if x + w > WIDTH - RIGHT && x > self.left {
                (x, row) = (self.left, row + 1);
            }
            let y = self.height + 4.0 + row as f64 * LEGEND_ROW;
            let _ = match swatch {
                Swatch::Fill => {
                    write!(s, r#"<rect class="sw {class}" x="{}" y="{}" width="12" height="10"/>"#, n(x), n(y))
                }
                Swatch::Ring => {
                    write!(s, r#"<circle class="ring {class}" cx="{}" cy="{}" r="4.5"/>"#, n(x + 6.0), n(y + 5.0))
                }
                Swatch::Line | Swatch::Dash => {
                    let kind = if *swatch == Swatch::Dash { "ref" } else { "ln" };
                    write!(s, r#"<path class="{kind} {class}" d="M{},{}h14"/>"#, n(x), n(y + 5.0))
                }
            };
            let _ = write!(s, r#"<text class="lg" x="{}" y="{}">"#, n(x + 18.0), n(y + 9.5));
            push_xml(&mut s, &label);
            s.push_str("</text>");
            x += w;
        }
        let h = if self.legend.is_empty() { 0.0 } else { (row + 1) as f64 * LEGEND_ROW + 4.0 };
        (s, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot() -> Plot {
        Plot::new("T <1>", Axis::linear(0.0, 10.0), Axis::linear(0.0, 100.0), "time (s)", "count")
    }

    #[test]
    fn maps_data_into_the_plot_area() {
        let p = plot();
        assert_eq!(p.px(0.0), LEFT);
        assert_eq!(p.px(10.0), WIDTH - RIGHT);
        assert_eq!(p.py(0.0), 260.0 - BOTTOM);
        assert_eq!(p.py(100.0), TOP);
    }

    #[test]
    fn lanes_run_top_to_bottom() {
        let p = Plot::new("t", Axis::linear(0.0, 1.0), Axis::categories(vec!["a".into(), "b".into()]), "x", "y");
        assert!(p.py(0.0) < p.py(1.0));
    }

    #[test]
    fn finished_svg_escapes_text_and_parses() {
        let mut p = plot();
        p.line(&[(0.0, 0.0), (5.0, 50.0)], "c0", "a & b");
        p.rect((1.0, 2.0), (0.0, 10.0), "bar c1", "</script>");
        p.band((1.0, 3.0), "window <3>", true);
        p.legend("series \"x\"", "c0", Swatch::Line);
        let svg = p.finish();
        assert!(svg.contains("T &lt;1&gt;") && svg.contains("&lt;/script&gt;") && !svg.contains("<3>"));
        assert!(roxmltree::Document::parse(&svg).is_ok(), "{svg}");
    }

    #[test]
    fn legend_wraps_into_rows_and_grows_the_chart() {
        let mut p = plot();
        for i in 0..12 {
            p.legend(&format!("a rather long legend label {i}"), "c0", Swatch::Fill);
        }
        let (_, h) = p.legend_markup();
        assert!(h >= 3.0 * LEGEND_ROW, "{h}");
        assert!(p.finish().contains(r#"viewBox="0 0 720 3"#));
    }

    #[test]
    fn flat_rects_are_skipped() {
        let mut p = plot();
        p.rect((1.0, 2.0), (5.0, 5.0), "bar", "");
        assert!(p.body.is_empty());
    }
}
