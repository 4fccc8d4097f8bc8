//! `${NAME}` and `${NAME:-default}` in scenario string values, so a CI job
//! passes a token or a URL through its environment instead of committing
//! it: `header = ["Authorization: Bearer ${WS_TOKEN}"]`.
//!
//! Only the braced forms expand (a regex such as `^hello$` keeps its `$`);
//! `$$` is a literal `$`. `${NAME:-default}` uses the default when NAME is
//! unset or empty, as a shell does. An unset NAME without a default is an
//! error naming it, never an empty string: a check that silently ran
//! without its credentials would report the wrong thing.
//!
//! Every value taken from the environment is returned so the caller can
//! register it with [`crate::redact::register_secret`]: an expanded value
//! may be a secret whatever header or parameter it lands in.
//!
//! Hand-written rather than a crate: the crates that expand variables
//! (shellexpand, subst) also expand bare `$NAME`, which would break the
//! regexes scenario files carry, and none has exactly this escape.

/// The result of expanding one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The text with every reference replaced.
    pub text: String,
    /// The values that came from the environment (not from defaults).
    pub from_env: Vec<String>,
}

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// `${NAME}` with NAME unset and no default.
    #[error("${{{0}}} is not set: export {0}=... in the environment (in GitHub Actions, `env: {0}: ${{{{ secrets.{0} }}}}`), or give a default with ${{{0}:-value}}")]
    Unset(String),
    /// `${` without its `}`.
    #[error("`${{` without a closing `}}`: write ${{NAME}}, or $$ for a literal $")]
    Unclosed,
    /// A name that is not `[A-Za-z_][A-Za-z0-9_]*`.
    #[error("${{{0}}}: a variable name is letters, digits and _, not starting with a digit")]
    BadName(String),
}

/// Expands `text`, reading variables with `lookup` (the process
/// environment in [`expand`]).
pub fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Expanded, EnvError> {
    let mut out = Expanded { text: String::with_capacity(text.len()), from_env: Vec::new() };
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.text.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').ok_or(EnvError::Unclosed)?;
            reference(&inner[..end], &lookup, &mut out)?;
            rest = &inner[end + 1..];
        } else {
            out.text.push('$');
            rest = after;
        }
    }
    out.text.push_str(rest);
    Ok(out)
}

/// Expands `text` with the process environment.
pub fn expand(text: &str) -> Result<Expanded, EnvError> {
    expand_with(text, |name| std::env::var(name).ok())
}

/// Expands every string inside a TOML value (arrays and tables too), in
/// place; returns the values that came from the environment.
pub fn expand_value(value: &mut toml::Value) -> Result<Vec<String>, EnvError> {
    let mut from_env = Vec::new();
    match value {
        toml::Value::String(s) => {
            let expanded = expand(s)?;
            *s = expanded.text;
            from_env = expanded.from_env;
        }
        toml::Value::Array(items) => {
            for item in items {
                from_env.extend(expand_value(item)?);
            }
        }
        toml::Value::Table(table) => {
            for (_, item) in table.iter_mut() {
                from_env.extend(expand_value(item)?);
            }
        }
        _ => {}
    }
    Ok(from_env)
}

/// One `NAME` or `NAME:-default` (the text between the braces).
fn reference(inner: &str, lookup: &impl Fn(&str) -> Option<String>, out: &mut Expanded) -> Result<(), EnvError> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    if !is_name(name) {
        return Err(EnvError::BadName(name.to_string()));
    }
    match (lookup(name), default) {
        (Some(value), Some(default)) if value.is_empty() => out.text.push_str(default),
        (Some(value), _) => {
            out.text.push_str(&value);
            out.from_env.push(value);
        }
        (None, Some(default)) => out.text.push_str(default),
        (None, None) => return Err(EnvError::Unset(name.to_string())),
    }
    Ok(())
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr3t".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn text(s: &str) -> Result<String, EnvError> {
        expand_with(s, env).map(|e| e.text)
    }

    #[test]
    fn references_expand_and_report_what_came_from_the_environment() {
        let e = expand_with("Bearer ${TOKEN}", env).unwrap();
        assert_eq!(e.text, "Bearer s3cr3t");
        assert_eq!(e.from_env, ["s3cr3t"]);
        assert_eq!(text("${MISSING:-ws://localhost/ws}").unwrap(), "ws://localhost/ws");
        assert_eq!(text("${EMPTY:-fallback}").unwrap(), "fallback", "empty takes the default, as in a shell");
        assert_eq!(text("[${EMPTY}]").unwrap(), "[]");
        assert_eq!(text("${TOKEN:-unused}").unwrap(), "s3cr3t");
        assert!(expand_with("${MISSING:-d}", env).unwrap().from_env.is_empty(), "defaults are not secrets");
    }

    #[test]
    fn dollars_that_are_not_references_stay() {
        assert_eq!(text("^hello$").unwrap(), "^hello$");
        assert_eq!(text("a $b $").unwrap(), "a $b $");
        assert_eq!(text("cost $${TOKEN}").unwrap(), "cost ${TOKEN}", "$$ escapes");
        assert_eq!(text("$$$$").unwrap(), "$$");
    }

    #[test]
    fn errors_name_the_variable_and_the_fix() {
        let e = text("Bearer ${WS_TOKEN}").unwrap_err();
        assert_eq!(e, EnvError::Unset("WS_TOKEN".into()));
        assert!(e.to_string().contains("${WS_TOKEN} is not set") && e.to_string().contains("${WS_TOKEN:-"), "{e}");
        assert_eq!(text("${TOKEN").unwrap_err(), EnvError::Unclosed);
        assert_eq!(text("${1X}").unwrap_err(), EnvError::BadName("1X".into()));
        assert_eq!(text("${}").unwrap_err(), EnvError::BadName(String::new()));
    }
}
