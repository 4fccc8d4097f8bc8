//! Backoff policies (`exp:500ms..30s`): never panic, and the delay never
//! exceeds the cap whatever the attempt number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsprobe::units::Backoff;

fuzz_target!(|input: (&str, u32)| {
    let (text, attempt) = input;
    if let Ok(policy) = text.parse::<Backoff>() {
        let d = policy.delay(attempt);
        if let Backoff::Exponential { max, .. } = policy {
            assert!(d <= max);
        }
        let _ = policy.to_string();
    }
});
