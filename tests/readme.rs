//! The README stands alone: it links nothing outside the repository, says
//! what a user needs (exit codes, the JSON fields of every command) itself,
//! and sample output inside it never becomes one of its headings.

use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md")
}

/// The README's own headings: `#` lines outside fenced code blocks (a
/// fence closes only with a run of the same character at least as long).
fn headings(text: &str) -> Vec<String> {
    let mut fence: Option<(char, usize)> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let run = |c: char| trimmed.chars().take_while(|&x| x == c).count();
        let opener = ['`', '~'].into_iter().map(|c| (c, run(c))).find(|&(_, n)| n >= 3);
        match (fence, opener) {
            (None, Some(open)) => fence = Some(open),
            (Some((c, n)), Some((d, m))) if c == d && m >= n && trimmed[m..].trim().is_empty() => fence = None,
            (None, None) if line.starts_with('#') => out.push(line.to_string()),
            _ => {}
        }
    }
    assert!(fence.is_none(), "a fenced block is never closed");
    out
}

#[test]
fn the_readme_links_nothing_outside_the_repository() {
    let text = readme();
    for bad in ["](../", "../shared", "SPEC.md"] {
        assert!(!text.contains(bad), "README refers outside the repository: {bad}");
    }
}

#[test]
fn sample_output_is_never_a_readme_heading() {
    let headings = headings(&readme());
    assert!(headings.iter().any(|h| h == "## Output, JSON and exit codes"), "{headings:?}");
    let stray: Vec<&String> = headings.iter().filter(|h| h.contains('❌') || h.contains("wsprobe single:")).collect();
    assert!(stray.is_empty(), "sample output as a heading: {stray:?}");
    assert!(readme().contains("````markdown\n## ❌ wsprobe single: fail"), "the Markdown sample is shown as source");
}

#[test]
fn the_readme_itself_gives_exit_codes_and_every_commands_json_fields() {
    let text = readme();
    let section = &text[text.find("## Output, JSON and exit codes").expect("the section")..];
    let section = &section[..section[3..].find("\n## ").map(|i| i + 3).unwrap_or(section.len())];
    for code in ["| **0** |", "| **1** |", "| **2** |"] {
        assert!(section.contains(code), "exit code row {code}");
    }
    for name in wsprobe::check::NAMES.iter().chain(&["run", "selftest"]) {
        assert!(section.contains(&format!("| `{name}` |")), "JSON fields of `{name}`");
    }
    assert!(section.contains("\"verdict\": \"pass\"|\"fail\"|\"error\""), "the common fields");
}
