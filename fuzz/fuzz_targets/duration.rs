//! Durations as users type them: never panic; what parses formats back to
//! something that parses to (nearly) the same duration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsprobe::units::{format_duration, parse_duration};

fuzz_target!(|text: &str| {
    if let Ok(d) = parse_duration(text) {
        if d.as_secs() < 1_000_000 {
            let again = parse_duration(&format_duration(d)).expect("a formatted duration parses");
            let diff = again.as_secs_f64() - d.as_secs_f64();
            assert!(diff.abs() <= d.as_secs_f64() * 0.01 + 0.001, "{text:?}: {d:?} -> {again:?}");
        }
    }
});
