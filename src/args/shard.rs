//! The sharding options `storm`, `stability` and `fanout` share, exactly as
//! typed: `--shard I/N`, `--shards N` (the index from
//! `$JOB_COMPLETION_INDEX`, as a Kubernetes Indexed Job sets it) and
//! `--start-at`. `ShardPlan::from_args` in the shard module validates them.

use std::time::{Duration, SystemTime};

use clap::Args;

/// `--shard I/N`: this process is shard I (from 0) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    /// This shard, 0-based.
    pub index: u32,
    /// How many shards the run has.
    pub count: u32,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;
    fn from_str(text: &str) -> Result<ShardSpec, String> {
        let bad = || format!("invalid shard '{text}': write I/N with 0 <= I < N, such as 0/4 (the first of four)");
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(ShardSpec { index, count })
    }
}

/// `--start-at`: a wall-clock instant, or a delay after this process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// An RFC 3339 time, such as `2025-12-01T12:00:00Z`.
    At(SystemTime),
    /// `+30s`: this long after the process started (shards launched together).
    After(Duration),
}

impl std::str::FromStr for StartAt {
    type Err = String;
    fn from_str(text: &str) -> Result<StartAt, String> {
        let text = text.trim();
        if let Some(rel) = text.strip_prefix('+') {
            return crate::units::parse_duration(rel).map(StartAt::After);
        }
        humantime::parse_rfc3339_weak(text).map(StartAt::At).map_err(|_| {
            format!("invalid start time '{text}': write an RFC 3339 time in UTC such as 2025-12-01T12:00:00Z, or +30s (after this process starts)")
        })
    }
}

/// Options for running one command as N shards on N machines (or N
/// processes) whose reports `wsprobe merge` combines.
#[derive(Debug, Clone, Default, Args)]
pub struct ShardArgs {
    /// Run shard I of N (I from 0): this process takes the clients k with
    /// k mod N == I ({client} stays the global index); --clients,
    /// --connect-rate and --messages stay totals over all shards.
    #[arg(long, value_name = "I/N", conflicts_with = "shards")]
    pub shard: Option<ShardSpec>,
    /// Run as one of N shards, the index read from $JOB_COMPLETION_INDEX
    /// (set by a Kubernetes Indexed Job).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Start at this wall-clock time (RFC 3339, UTC), or +D after this
    /// process starts. Shards started late skip the arrivals already more
    /// than 1 s past and report how late they were.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<StartAt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_read_and_refuse() {
        assert_eq!("1/3".parse::<ShardSpec>(), Ok(ShardSpec { index: 1, count: 3 }));
        for bad in ["3/3", "1/0", "1", "a/3", "-1/3"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn start_times_read_absolute_and_relative() {
        let at = "2025-12-01T12:00:00.250Z".parse::<StartAt>().unwrap();
        let want = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_590_400_250);
        assert_eq!(at, StartAt::At(want));
        assert_eq!("+30s".parse::<StartAt>(), Ok(StartAt::After(Duration::from_secs(30))));
        assert!("soon".parse::<StartAt>().unwrap_err().contains("RFC 3339"));
    }
}
