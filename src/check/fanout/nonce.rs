//! The nonce that marks each published message, and the templates that
//! carry it. A nonce is `wsp<run>x<id>`: letters and digits only, so it
//! survives JSON, URLs and most application envelopes untouched; `<run>`
//! is random per run, so a message left over from another run is never
//! counted; `<id>` says which message it is (and so who published it and
//! whom it was for).

use crate::units::{expand, ClientId};

/// Makes and finds the nonces of one run.
#[derive(Debug, Clone)]
pub struct Nonces {
    prefix: String,
}

impl Nonces {
    /// A fresh run token.
    pub fn new() -> Nonces {
        Nonces { prefix: format!("wsp{:08x}x", fastrand::u32(..)) }
    }

    /// The nonce of message `id`.
    pub fn make(&self, id: u64) -> String {
        format!("{}{id}", self.prefix)
    }

    /// Every message id whose nonce appears in `text`.
    pub fn find<'a>(&'a self, text: &'a str) -> impl Iterator<Item = u64> + 'a {
        text.match_indices(self.prefix.as_str()).filter_map(move |(at, _)| {
            let digits = &text[at + self.prefix.len()..];
            let end = digits.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
            digits[..end].parse().ok()
        })
    }
}

impl Default for Nonces {
    fn default() -> Self {
        Nonces::new()
    }
}

/// Expands a publish template: `{nonce}`, `{to}` (the recipient's index),
/// then `{client}` / `{uuid}` of the publisher.
pub fn expand_publish(template: &str, nonce: &str, to: Option<u32>, publisher: ClientId) -> String {
    let mut text = template.replace("{nonce}", nonce);
    if let Some(to) = to {
        text = text.replace("{to}", &to.to_string());
    }
    expand(&text, publisher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_found_in_any_envelope() {
        let n = Nonces::new();
        let text = format!(r#"{{"type":"broadcast","from":"dev-1","data":"{}"}}"#, n.make(42));
        assert_eq!(n.find(&text).collect::<Vec<_>>(), [42]);
        let two = format!("{} and {}", n.make(7), n.make(1234567));
        assert_eq!(n.find(&two).collect::<Vec<_>>(), [7, 1234567]);
        assert_eq!(n.find("nothing here").count(), 0);
    }

    #[test]
    fn another_runs_nonces_are_not_ours() {
        let (a, b) = (Nonces { prefix: "wspaaaaaaaax".into() }, Nonces { prefix: "wspbbbbbbbbx".into() });
        assert_eq!(a.find(&b.make(3)).count(), 0);
    }

    #[test]
    fn templates_expand_nonce_recipient_and_publisher() {
        let text =
            expand_publish(r#"{"to":"dev-{to}","data":"{nonce}","from":"{client}"}"#, "N1", Some(3), ClientId::new(1));
        assert_eq!(text, r#"{"to":"dev-3","data":"N1","from":"1"}"#);
    }
}
