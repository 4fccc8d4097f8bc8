//! What every check's report says about the run itself, beyond the
//! check's own fields: when it ran (UTC, µs), which wsprobe, which plan
//! (its hash), which shard, how the shared start went, the per-second
//! timeline, and, for a merged report, what it was merged from. `merge`
//! relies on these to refuse reports that do not belong together and to
//! align the rest on absolute time.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::shard::start::StartRecord;
use crate::shard::ShardInfo;
use crate::stats::timeline::Second;

/// This wsprobe's version, as reports carry it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a check knows about its run's clock besides its details.
#[derive(Debug, Default)]
pub struct RunFacts {
    /// The wall-clock time the run's relative times (`at_s`...) count from.
    pub origin: Option<SystemTime>,
    /// How the shared start went (`--start-at`).
    pub start: Option<StartRecord>,
    /// The per-second timeline.
    pub timeline: Option<Vec<Second>>,
}

/// The run's identity and times, as every check's report carries them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// When the run's clock started (UTC, RFC 3339, µs).
    pub started_at: String,
    /// When the run ended.
    pub ended_at: String,
    /// The wsprobe that ran it.
    pub wsprobe_version: String,
    /// The plan's fingerprint, without the shard fields: equal for every
    /// shard of one command line.
    pub plan_hash: String,
    /// Which shard this is (checks that can be sharded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// How the shared start went (`--start-at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartRecord>,
}

impl RunMeta {
    /// The meta of a run from `started` to `ended`.
    pub fn new(started: SystemTime, ended: SystemTime, plan_hash: String, shard: Option<ShardInfo>) -> RunMeta {
        RunMeta {
            started_at: crate::clock::rfc3339(started),
            ended_at: crate::clock::rfc3339(ended),
            wsprobe_version: VERSION.to_string(),
            plan_hash,
            shard,
            start: None,
        }
    }
}

/// One input of a merged report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedFrom {
    /// The file (`-#2`: the second object on stdin).
    pub source: String,
    /// The shard it held.
    pub shard: u32,
}
