//! Rates (`3/10s`): never panic; a parsed rate has a positive count and
//! window, a usable interval, and prints back to an equal rate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsprobe::units::Rate;

fuzz_target!(|text: &str| {
    if let Ok(rate) = text.parse::<Rate>() {
        assert!(rate.count > 0 && !rate.per.is_zero());
        let _ = rate.interval();
        assert!(rate.per_second() > 0.0);
        if rate.per.as_secs() < 1_000_000 {
            let again: Rate = rate.to_string().parse().expect("a printed rate parses");
            assert_eq!(again.count, rate.count);
        }
    }
});
