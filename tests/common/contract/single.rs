//! `single`: the policy, both connections, reconnect, distinct identities, the race.

use serde::Deserialize;

use super::{nullable, omittable, Common, Contract, Finding, Verdict};

report! {
    /// `single`, with or without `--race`.
    pub struct SingleReport {
        pub policy: Policy,
        pub first: ConnOutcome,
        pub second: ConnOutcome,
        #[serde(deserialize_with = "nullable")]
        pub reconnect_after_close: Option<Reconnect>,
        pub distinct: Distinct,
        #[serde(default, deserialize_with = "omittable")]
        pub race: Option<Race>,
    }
}

impl Contract for SingleReport {
    const OMITTABLE: &'static [&'static str] = &["race"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    RejectNew,
    ReplaceOld,
    AllowMultiple,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnState {
    Open,
    Rejected,
    Closed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnOutcome {
    pub outcome: ConnState,
    #[serde(deserialize_with = "nullable")]
    pub http_status: Option<u16>,
    #[serde(deserialize_with = "nullable")]
    pub close_code: Option<u16>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reconnect {
    Accepted,
    Rejected,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distinct {
    pub tried: u32,
    pub accepted: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Race {
    pub first: ConnOutcome,
    pub second: ConnOutcome,
    pub policy: Policy,
}
