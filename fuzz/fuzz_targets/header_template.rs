//! Headers, `{client}`/`{uuid}` templates and redaction: never panic, never
//! a line break in a header, and a secret value never survives redaction.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsprobe::units::{expand, redact_header_value, redact_url, ClientId, Header};

fuzz_target!(|input: (&str, u32)| {
    let (text, index) = input;
    if let Ok(h) = text.parse::<Header>() {
        assert!(!h.value.contains('\r') && !h.value.contains('\n'));
        let value = expand(&h.value, ClientId::new(index));
        let shown = redact_header_value(&h.name, &value);
        if h.name.eq_ignore_ascii_case("cookie") && value.len() > 3 {
            assert!(!shown.contains(&value), "{value:?}");
        }
    }
    let _ = redact_url(text);
    let url = format!("ws://h/p?token={text}");
    if !text.contains(['&', '#']) {
        assert!(redact_url(&url).ends_with("token=***"), "{url:?}");
    }
});
