//! The nonce that marks each published message, and the templates that
//! carry it. A nonce is `wsp<run>x<id>`: letters and digits only, so it
//! survives JSON, URLs and most application envelopes untouched; `<run>`
//! is random per run, so a message left over from another run is never
//! counted; `<id>` says which message it is (and so who published it and
//! whom it was for). Shards of one run share `<run>` (derived from the plan
//! and the shared start) and stamp each nonce with its publish time in µs
//! since the shared start (`wsp<run>x<id>t<µs>`), so a receiver on another
//! machine can time a message it did not send.

use crate::units::{expand, ClientId};

/// Makes and finds the nonces of one run.
#[derive(Debug, Clone)]
pub struct Nonces {
    prefix: String,
    stamped: bool,
}

impl Nonces {
    /// A fresh run token.
    pub fn new() -> Nonces {
        Nonces { prefix: format!("wsp{:08x}x", fastrand::u32(..)), stamped: false }
    }

    /// The token every shard of one run shares (from `seed`: the plan hash
    /// and the shared start), with publish times stamped in.
    pub fn shared(seed: &str) -> Nonces {
        let run = crate::shard::hash::fingerprint(seed);
        Nonces { prefix: format!("wsp{}x", &run[..8]), stamped: true }
    }

    /// The nonce of message `id`, published `at_us` after the start.
    pub fn make(&self, id: u64, at_us: u64) -> String {
        if self.stamped {
            format!("{}{id}t{at_us}", self.prefix)
        } else {
            format!("{}{id}", self.prefix)
        }
    }

    /// Every message id whose nonce appears in `text`, with its publish
    /// stamp when it has one.
    pub fn find<'a>(&'a self, text: &'a str) -> impl Iterator<Item = (u64, Option<u64>)> + 'a {
        text.match_indices(self.prefix.as_str()).filter_map(move |(at, _)| {
            let (id, rest) = digits(&text[at + self.prefix.len()..]);
            let stamp = rest.strip_prefix('t').and_then(|r| digits(r).0);
            Some((id?, stamp))
        })
    }
}

/// The number at the start of `text`, and what follows it.
fn digits(text: &str) -> (Option<u64>, &str) {
    let end = text.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(text.len());
    (text[..end].parse().ok(), &text[end..])
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
        let text = format!(r#"{{"type":"broadcast","from":"dev-1","data":"{}"}}"#, n.make(42, 9));
        assert_eq!(n.find(&text).collect::<Vec<_>>(), [(42, None)]);
        let two = format!("{} and {}", n.make(7, 0), n.make(1234567, 0));
        assert_eq!(n.find(&two).collect::<Vec<_>>(), [(7, None), (1234567, None)]);
        let shared = Nonces::shared("plan@start");
        assert_eq!(shared.find(&shared.make(3, 1500)).collect::<Vec<_>>(), [(3, Some(1500))]);
        assert_eq!(Nonces::shared("plan@start").prefix, shared.prefix, "every shard finds the others' nonces");
        assert_eq!(n.find("nothing here").count(), 0);
    }

    #[test]
    fn another_runs_nonces_are_not_ours() {
        let (a, b) = (Nonces { prefix: "wspaaaaaaaax".into(), stamped: false }, Nonces::new());
        assert_eq!(a.find(&b.make(3, 0)).count(), 0);
    }

    #[test]
    fn templates_expand_nonce_recipient_and_publisher() {
        let text =
            expand_publish(r#"{"to":"dev-{to}","data":"{nonce}","from":"{client}"}"#, "N1", Some(3), ClientId::new(1));
        assert_eq!(text, r#"{"to":"dev-3","data":"N1","from":"1"}"#);
    }
}
