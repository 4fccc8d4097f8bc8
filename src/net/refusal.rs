//! What an HTTP refusal of the upgrade usually means and what to do about
//! it, from its status and the (bounded) body the server sent with it.
//!
//! The status alone misleads: a 403 is as often an Origin check (browsers
//! always send Origin, a CLI does not unless asked; Python `websockets`
//! with `origins=[...]`, Socket.IO's `cors`, Spring's allowed origins) as
//! missing credentials. When the body names the origin, the advice is
//! `--origin`, not `-H`.

/// Words that mark a refusal as an Origin check (lower case; matched
/// anywhere in the lowered body, so "cross-origin" and "CORS" count).
const ORIGIN_WORDS: &[&str] = &["origin", "cors"];

/// True when a refusal's body names the Origin check.
pub fn names_origin(body: &str) -> bool {
    let lower = body.to_lowercase();
    ORIGIN_WORDS.iter().any(|w| lower.contains(w))
}

/// The advice for a 401/403 whose body says nothing more.
pub const CREDENTIALS_ADVICE: &str =
    "401/403: authentication failed; pass credentials with -H \"Authorization: Bearer ...\" or a token in the URL.";

/// The diagnosis line for an authentication-like refusal (401/403), or
/// `None` for other statuses.
pub fn auth_advice(status: u16, body: &str) -> Option<String> {
    if !matches!(status, 401 | 403) {
        return None;
    }
    Some(if names_origin(body) {
        format!("{status} naming the Origin: the server checks the Origin header, which browsers always send and wsprobe sends only when asked; pass the origin the app is served from, such as --origin https://app.example.com.")
    } else {
        CREDENTIALS_ADVICE.to_string()
    })
}

/// The same advice as a short parenthesis for a finding or an error line.
pub fn auth_hint(status: u16, body: &str) -> Option<&'static str> {
    auth_advice(status, body)?;
    Some(if names_origin(body) {
        " (the refusal names the Origin: pass the allowed one with --origin)"
    } else {
        " (pass credentials with -H)"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_refusal_gets_origin_advice_and_others_get_credentials_advice() {
        let websockets = "Failed to open a WebSocket connection: missing Origin header.";
        assert!(auth_advice(403, websockets).unwrap().contains("--origin"));
        assert!(auth_hint(403, "Cross-Origin request blocked").unwrap().contains("--origin"));
        assert!(auth_hint(403, "CORS policy: not allowed").unwrap().contains("--origin"));
        assert!(auth_advice(401, "missing or wrong bearer token").unwrap().contains("-H \"Authorization"));
        assert_eq!(auth_hint(403, ""), Some(" (pass credentials with -H)"));
        assert_eq!(auth_advice(409, "origin"), None, "only 401/403 are about who may connect");
    }
}
