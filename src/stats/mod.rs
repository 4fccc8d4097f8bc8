//! Folding events into numbers. Collectors are pure: they take events and
//! produce statistics, so they are unit-tested with synthetic events.

pub mod closes;
pub mod infer;
pub mod latency;
pub mod selfwatch;
pub mod storm;
