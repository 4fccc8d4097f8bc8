//! One command as N shards: which clients are this shard's, how the
//! totals divide, and when the run starts. A shard is a plain wsprobe
//! process: it takes the clients k with k mod N == I and keeps their
//! global indices, so `{client}` identities never collide between shards
//! and the union of the shards' schedules is the one-machine schedule.
//! `--start-at` puts every shard on one wall-clock instant; a late shard
//! skips what is already past and says how late it was.
//!
//! - [`ShardPlan`]: the validated `--shard`/`--shards`/`--start-at`.
//! - [`start`]: waiting for the start and measuring lateness.
//! - [`hash`]: the plan hash that tells `merge` two shards ran one plan.

pub mod hash;
pub mod start;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::args::shard::{ShardArgs, StartAt};
use crate::exit::PlanError;

/// The environment variable a Kubernetes Indexed Job sets to the pod's index.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// Most shards one run may have.
pub const MAX_SHARDS: u32 = 10_000;
/// Furthest in the future `--start-at` may be.
pub const MAX_START_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Which shard of how many, as reports carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// This shard, 0-based.
    pub index: u32,
    /// How many shards the run has.
    pub count: u32,
}

/// The validated sharding of a run. The default is the whole run on one
/// machine (shard 0 of 1, starting at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardPlan {
    /// This shard, 0-based.
    pub index: u32,
    /// How many shards.
    pub count: u32,
    /// The shared start, when given.
    pub start_at: Option<SystemTime>,
}

impl Default for ShardPlan {
    fn default() -> Self {
        ShardPlan { index: 0, count: 1, start_at: None }
    }
}

impl ShardPlan {
    /// Checks the sharding options; `env` reads an environment variable
    /// (the process environment outside tests).
    pub fn from_args(a: &ShardArgs, env: impl Fn(&str) -> Option<String>) -> Result<ShardPlan, PlanError> {
        let (index, count) = match (a.shard, a.shards) {
            (Some(s), _) => (s.index, s.count),
            (None, Some(n)) => (index_from_env(n, &env)?, n),
            (None, None) => (0, 1),
        };
        if count > MAX_SHARDS {
            return Err(PlanError::new(format!("{count} shards: at most {MAX_SHARDS}")));
        }
        let start_at = a.start_at.map(|s| resolve_start(s, SystemTime::now())).transpose()?;
        Ok(ShardPlan { index, count, start_at })
    }

    /// True when the run is split (more than one shard).
    pub fn is_sharded(&self) -> bool {
        self.count > 1
    }

    /// As reports carry it.
    pub fn info(&self) -> ShardInfo {
        ShardInfo { index: self.index, count: self.count }
    }

    /// True when global client `k` is this shard's.
    pub fn owns(&self, k: u32) -> bool {
        k % self.count == self.index
    }

    /// This shard's clients of `total`: global indices I, I+N, I+2N...
    pub fn clients(&self, total: u32) -> impl Iterator<Item = u32> {
        (self.index..total).step_by(self.count as usize)
    }

    /// How many of `total` clients are this shard's.
    pub fn share(&self, total: u32) -> u32 {
        total.saturating_sub(self.index).div_ceil(self.count)
    }

    /// The same plan with the shard fields blanked, for the plan hash.
    pub fn blank() -> ShardPlan {
        ShardPlan::default()
    }

    /// Refuses a shard that would run no client, and sharding against
    /// the embedded server (each shard would load its own server).
    pub fn check(&self, clients: u32, embedded: bool) -> Result<(), PlanError> {
        if self.is_sharded() && embedded {
            return Err(PlanError::new(
                "--shard needs a URL: every shard must load the same server (start one with `wsprobe serve` and give its URL)",
            ));
        }
        if self.share(clients) == 0 {
            return Err(PlanError::new(format!(
                "shard {}/{} has no clients: --clients {clients} is the total over all {} shards, so use at least {} clients or fewer shards",
                self.index, self.count, self.count, self.count
            )));
        }
        Ok(())
    }
}

fn index_from_env(count: u32, env: &impl Fn(&str) -> Option<String>) -> Result<u32, PlanError> {
    if count == 0 {
        return Err(PlanError::new("--shards must be at least 1"));
    }
    let text = env(INDEX_ENV).ok_or_else(|| {
        PlanError::new(format!(
            "--shards {count} reads this shard's index from ${INDEX_ENV} (set by a Kubernetes Indexed Job), which is not set: give --shard I/{count} instead"
        ))
    })?;
    let index: u32 = text.trim().parse().map_err(|_| {
        PlanError::new(format!("${INDEX_ENV}={text:?} is not a shard index (a number from 0 to {})", count - 1))
    })?;
    if index >= count {
        return Err(PlanError::new(format!("${INDEX_ENV}={index} is not below --shards {count}")));
    }
    Ok(index)
}

fn resolve_start(s: StartAt, now: SystemTime) -> Result<SystemTime, PlanError> {
    let at = match s {
        StartAt::At(t) => t,
        StartAt::After(d) => now + d,
    };
    if at.duration_since(now).is_ok_and(|ahead| ahead > MAX_START_WAIT) {
        return Err(PlanError::new(format!(
            "--start-at is more than {} ahead: give a time within a day",
            crate::units::format_duration(MAX_START_WAIT)
        )));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::shard::ShardSpec;

    fn args(shard: Option<&str>, shards: Option<u32>) -> ShardArgs {
        ShardArgs { shard: shard.map(|s| s.parse::<ShardSpec>().unwrap()), shards, start_at: None }
    }

    #[test]
    fn striping_takes_every_nth_global_client() {
        let p = ShardPlan { index: 1, count: 3, start_at: None };
        assert_eq!(p.clients(10).collect::<Vec<_>>(), [1, 4, 7]);
        assert_eq!((p.share(10), p.share(1), p.share(2)), (3, 0, 1));
        assert!(p.owns(7) && !p.owns(6));
        let total: u32 = (0..3).map(|i| ShardPlan { index: i, ..p }.share(10)).sum();
        assert_eq!(total, 10);
    }

    #[test]
    fn the_index_comes_from_the_flag_or_the_job_index() {
        let none = |_: &str| None;
        assert_eq!(ShardPlan::from_args(&args(Some("2/4"), None), none).unwrap().index, 2);
        let env = |k: &str| (k == INDEX_ENV).then(|| "3".to_string());
        let p = ShardPlan::from_args(&args(None, Some(4)), env).unwrap();
        assert_eq!((p.index, p.count), (3, 4));
        let e = ShardPlan::from_args(&args(None, Some(4)), none).unwrap_err().to_string();
        assert!(e.contains(INDEX_ENV) && e.contains("--shard I/4"), "{e}");
        let high = |_: &str| Some("4".to_string());
        assert!(ShardPlan::from_args(&args(None, Some(4)), high).is_err());
        assert_eq!(ShardPlan::from_args(&args(None, None), none).unwrap(), ShardPlan::default());
    }

    #[test]
    fn shards_need_clients_and_a_url() {
        let p = ShardPlan { index: 4, count: 5, start_at: None };
        assert!(p.check(3, false).unwrap_err().to_string().contains("no clients"));
        assert!(p.check(10, true).unwrap_err().to_string().contains("needs a URL"));
        assert!(ShardPlan::default().check(1, true).is_ok());
    }

    #[test]
    fn a_start_more_than_a_day_ahead_is_refused() {
        let now = SystemTime::now();
        assert!(resolve_start(StartAt::After(Duration::from_secs(3)), now).is_ok());
        assert!(resolve_start(StartAt::After(Duration::from_secs(90_000)), now).is_err());
    }
}
