//! Scenario files: any text either loads or fails with a file:line error;
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = wsprobe::scenario::parse(std::path::Path::new("fuzz.toml"), text, None) {
        assert!(e.to_string().starts_with("fuzz.toml:"));
        assert!(e.line <= text.lines().count() + 1);
    }
});
