//! Property tests for the parsers users type into: never a panic, and what
//! parses prints back to the same value. (cargo-fuzz targets for the same
//! parsers live in fuzz/.)

use proptest::prelude::*;
use wsprobe::units::{expand, format_duration, parse_duration, redact_url, Backoff, ClientId, Header, Rate};

proptest! {
    #[test]
    fn durations_never_panic_and_round_trip(text in "\\PC{0,24}", ms in 1u64..10_000_000) {
        let _ = parse_duration(&text);
        let d = std::time::Duration::from_millis(ms);
        let back = parse_duration(&format_duration(d)).unwrap();
        prop_assert!((back.as_secs_f64() - d.as_secs_f64()).abs() <= d.as_secs_f64() * 0.01 + 0.001);
    }

    #[test]
    fn rates_never_panic_and_round_trip(text in "\\PC{0,16}", count in 1u32..100_000, secs in 1u64..3600) {
        let _ = text.parse::<Rate>();
        let rate = Rate { count, per: std::time::Duration::from_secs(secs) };
        let back: Rate = rate.to_string().parse().unwrap();
        prop_assert_eq!(back.count, count);
        prop_assert!((back.per.as_secs_f64() - secs as f64).abs() <= secs as f64 * 0.01);
    }

    #[test]
    fn backoff_never_exceeds_its_cap(text in "(none|fixed:|exp:)?[0-9]{0,4}(ms|s|m)?(\\.\\.[0-9]{0,4}(ms|s|m)?)?", attempt in 0u32..1000) {
        if let Ok(b) = text.parse::<Backoff>() {
            let d = b.delay(attempt);
            if let Backoff::Exponential { max, .. } = b {
                prop_assert!(d <= max);
            }
        }
    }

    #[test]
    fn headers_and_templates_never_panic(text in "\\PC{0,40}", index in 0u32..100_000) {
        if let Ok(h) = text.parse::<Header>() {
            prop_assert!(!h.value.contains('\n'));
            let _ = expand(&h.value, ClientId::new(index));
        }
        let _ = redact_url(&text);
    }

    #[test]
    fn token_values_are_always_redacted(value in "[A-Za-z0-9_.-]{1,40}") {
        let url = format!("wss://h/ws?device=d&token={value}");
        prop_assert!(redact_url(&url).ends_with("token=***"));
    }

    #[test]
    fn scenario_parsing_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = wsprobe::scenario::parse(std::path::Path::new("p.toml"), &text, None) {
            prop_assert!(e.to_string().starts_with("p.toml:"));
        }
    }
}
