//! The shape of the code, checked: the top-level modules depend on each
//! other without cycles (data flows one way), no file outside a check's
//! folder names a check except the registry, and no file or function
//! grows past the limits the style sets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A file's code without its unit tests (tests may reach anywhere).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("readable source");
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The top-level module a file belongs to (`src/check/storm/mod.rs` → `check`).
fn top_module(path: &Path) -> String {
    let rel = path.strip_prefix(src()).expect("under src");
    let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::name` a text refers to.
fn crate_refs(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .map(|(i, _)| text[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
        .filter(|name| !name.is_empty())
        .collect()
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let from = top_module(&file);
        if from == "lib" || from == "main" {
            continue;
        }
        let refs = crate_refs(&code(&file));
        graph.entry(from.clone()).or_default().extend(refs.into_iter().filter(|to| *to != from));
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                return Some([path.clone(), vec![start.to_string()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push((next.clone(), [path.clone(), vec![next.clone()]].concat()));
            }
        }
    }
    None
}

#[test]
fn top_level_modules_have_no_cycles() {
    let graph = module_graph();
    assert!(graph.contains_key("check") && graph["check"].contains("net"), "the graph was read: {graph:?}");
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module) {
            panic!("module cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn only_the_registry_names_a_check_outside_its_folder() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for name in wsprobe::check::NAMES {
        let folder = src().join("check").join(name);
        for file in files.iter().filter(|f| !f.starts_with(&folder) && !f.ends_with("check/mod.rs")) {
            let text = code(file);
            let by_path = text.contains(&format!("check::{name}::")) || text.contains(&format!("check::{name};"));
            let by_string =
                text.lines().filter(|l| !l.trim_start().starts_with("//")).any(|l| l.contains(&format!("\"{name}\"")));
            assert!(!by_path && !by_string, "{} names the check `{name}`", file.display());
        }
    }
}

#[test]
fn files_and_functions_stay_small() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let lines = text.lines().count();
        assert!(lines <= 400, "{} has {lines} lines (limit 400): split it along a seam", file.display());
        let all: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < all.len() {
            let line = all[i];
            let trimmed = line.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "async fn ",
                "pub async fn ",
                "pub(crate) async fn ",
                "pub(super) async fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            if is_fn && !line.trim_end().ends_with(';') {
                let indent = line.len() - trimmed.len();
                let end = (i + 1..all.len())
                    .find(|&j| {
                        all[j].len() - all[j].trim_start().len() == indent && all[j].trim_start().starts_with('}')
                    })
                    .unwrap_or(i);
                let length = end - i + 1;
                assert!(length <= 60, "{}:{} a function of {length} lines (limit 60)", file.display(), i + 1);
                i = end;
            }
            i += 1;
        }
    }
}
