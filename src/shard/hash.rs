//! The plan hash: a short fingerprint of what a run does, so `merge`
//! refuses reports of different plans. A check hashes its validated plan
//! with the fields that legitimately differ between the shards of one
//! command line blanked first (the shard index, the start time, local
//! source addresses, whether a progress bar was drawn). FNV-1a over the
//! plan's `Debug` text: stable for one wsprobe version, which `merge`
//! checks as well.

/// The fingerprint of `text`: 16 hex digits.
pub fn fingerprint(text: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let hash = text.bytes().fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("{hash:016x}")
}

/// The hash of a plan, by its `Debug` text.
pub fn of(plan: &impl std::fmt::Debug) -> String {
    fingerprint(&format!("{plan:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        assert_eq!(fingerprint(""), "cbf29ce484222325");
        assert_eq!(fingerprint("a"), "af63dc4c8601ec8c");
        assert_ne!(of(&(1, "x")), of(&(2, "x")));
    }
}
