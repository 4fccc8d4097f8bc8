//! The charts a report's fields support, each in its own file, chosen by
//! the fields present (never by command name): absent or malformed fields
//! mean that chart is skipped. [`all`] lists them in page order.

mod closes;
mod connect;
mod fanout;
mod ratelimit;
mod spectrum;
mod survival;
mod timeline;

use serde_json::Value;

pub(crate) use closes::cause as closes_cause;

/// One figure of the page: a title, a caption that says what was drawn
/// from which field, and one or more SVG panels sharing an x axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    /// Shown as the figure's heading.
    pub title: String,
    /// What the chart shows and how to read it (plain text).
    pub caption: String,
    /// `<svg>` elements, top to bottom.
    pub svgs: Vec<String>,
}

impl Chart {
    /// A chart of one panel.
    pub(crate) fn new(title: &str, caption: impl Into<String>, svg: String) -> Chart {
        Chart { title: title.to_string(), caption: caption.into(), svgs: vec![svg] }
    }
}

/// Every chart `report` supports, in page order.
pub(crate) fn all(report: &Value) -> Vec<Chart> {
    let mut out = Vec::new();
    timeline::charts(report, &mut out);
    connect::charts(report, &mut out);
    ratelimit::charts(report, &mut out);
    closes::charts(report, &mut out);
    survival::charts(report, &mut out);
    fanout::charts(report, &mut out);
    spectrum::charts(report, &mut out);
    out
}

/// The colour class of the `i`-th series.
pub(crate) fn colour(i: usize) -> String {
    format!("c{}", i % 8)
}

/// Colour classes for outcome names, in order: successes are green, the
/// rest take palette colours in turn (skipping green's slot).
pub(crate) fn outcome_colours(names: &[String]) -> Vec<String> {
    let mut next = 0usize;
    names
        .iter()
        .map(|name| {
            if matches!(name.as_str(), "accepted" | "open" | "ok" | "delivered") {
                "cok".to_string()
            } else {
                next += 1;
                colour([1, 3, 4, 5, 6, 0, 7][(next - 1) % 7])
            }
        })
        .collect()
}

/// `(name, total)` pairs merged by name, largest first, the tail past
/// `keep` folded into `other`.
pub(crate) fn top_names(pairs: impl IntoIterator<Item = (String, f64)>, keep: usize, other: &str) -> Vec<String> {
    let mut totals: Vec<(String, f64)> = Vec::new();
    for (name, n) in pairs {
        match totals.iter_mut().find(|(k, _)| *k == name) {
            Some(t) => t.1 += n,
            None => totals.push((name, n)),
        }
    }
    totals.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut names: Vec<String> = totals.into_iter().map(|(k, _)| k).collect();
    if names.len() > keep {
        names.truncate(keep);
        names.push(other.to_string());
    }
    names
}

/// Which of `names` a series called `name` is drawn as (the last one, `other`, when folded).
pub(crate) fn slot(names: &[String], name: &str) -> usize {
    names.iter().position(|n| n == name).unwrap_or(names.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successes_are_green_and_others_distinct() {
        let names: Vec<String> = ["http-429", "accepted", "refused", "timeout"].map(String::from).to_vec();
        let c = outcome_colours(&names);
        assert_eq!(c[1], "cok");
        assert!(c[0] != c[2] && c[2] != c[3] && c[0] != "cok");
    }

    #[test]
    fn top_names_fold_the_tail_into_other() {
        let pairs = [("a", 1.0), ("b", 5.0), ("a", 9.0), ("c", 2.0), ("d", 0.5)].map(|(k, v)| (k.to_string(), v));
        let names = top_names(pairs, 2, "other");
        assert_eq!(names, ["a", "b", "other"]);
        assert_eq!(slot(&names, "d"), 2);
        assert_eq!(slot(&names, "b"), 1);
    }
}
