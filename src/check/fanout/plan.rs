//! `fanout`'s validated plan: defaults that speak the reference server's
//! protocol, and every combination that cannot work refused with the flag
//! and the fix, before anything connects.

use std::time::Duration;

use super::args::{Audience, FanoutArgs, Mode};
use super::http::{check_url, HttpPublisher};
use super::layout::Layout;
use super::publish::Publishing;
use crate::exit::PlanError;
use crate::plan::{ClientPlan, Target};
use crate::target::Resolved;
use crate::units::has_client_template;

/// The reference server's broadcast message.
pub const DEFAULT_BROADCAST: &str = r#"{"type":"broadcast","data":"{nonce}"}"#;
/// The reference server's routed message.
pub const DEFAULT_UNICAST: &str = r#"{"type":"send","to":"dev-{to}","data":"{nonce}"}"#;
/// Most (message, client) pairs one run tracks: one byte each.
pub const MAX_TRACKED: u64 = 20_000_000;

/// What `fanout` does.
#[derive(Debug, Clone)]
pub struct FanoutPlan {
    /// How to connect.
    pub client: ClientPlan,
    /// Connections.
    pub clients: u32,
    /// Broadcast or unicast.
    pub mode: Mode,
    /// Who must receive a broadcast.
    pub audience: Audience,
    /// Rounds.
    pub rounds: u32,
    /// The message template.
    pub publish: String,
    /// POST here instead of sending over a connection.
    pub publish_http: Option<String>,
    /// Wait after the last publish.
    pub wait: Duration,
    /// Pause before the first publish.
    pub settle: Duration,
    /// Pause between rounds.
    pub interval: Duration,
    /// Pass at this delivery ratio.
    pub expect_ratio: Option<f64>,
    /// Draw live progress.
    pub progress: bool,
    /// Which clients of the total are this process's, and when to start.
    pub shard: crate::shard::ShardPlan,
}

impl FanoutPlan {
    /// The numbering of this run's messages.
    pub fn layout(&self) -> Layout {
        Layout { mode: self.mode, audience: self.audience, clients: self.clients, rounds: self.rounds }
    }

    /// Messages the run will publish when everyone connects.
    pub fn messages_planned(&self) -> u64 {
        match self.mode {
            Mode::Broadcast => u64::from(self.rounds),
            Mode::Unicast => u64::from(self.rounds) * u64::from(self.clients - 1),
        }
    }

    /// How to publish against the resolved target.
    pub fn publishing(&self, target: &Resolved) -> Publishing {
        Publishing {
            template: self.publish.clone(),
            layout: self.layout(),
            http: self.publish_http.as_ref().map(|url| HttpPublisher {
                url: url.clone(),
                headers: self.client.headers.clone(),
                tls: target.endpoint.tls.clone().or_else(|| crate::net::tls::client_config(&self.client.net.tls).ok()),
                timeout: self.client.connect_timeout,
            }),
            interval: self.interval,
            shard: self.shard,
        }
    }
}

/// Builds and checks the plan.
pub fn from_args(a: &FanoutArgs) -> Result<FanoutPlan, PlanError> {
    let client = ClientPlan::from_args(&a.client)?;
    if a.clients < 2 {
        return Err(PlanError::new("--clients must be at least 2: fan-out needs a publisher and a receiver"));
    }
    let publish = template(a, &client)?;
    let carriers = [Some(publish.as_str()), a.publish_http.as_deref()];
    if !carriers.iter().flatten().any(|t| t.contains("{nonce}")) {
        return Err(PlanError::new(
            "--publish needs {nonce} in the message (for example '{\"type\":\"broadcast\",\"data\":\"{nonce}\"}'): receivers recognise each message by it",
        ));
    }
    if a.mode == Mode::Unicast && !carriers.iter().flatten().any(|t| t.contains("{to}")) {
        return Err(PlanError::new(
            "--mode unicast needs {to} in --publish (or the --publish-http URL) to address each message, for example '{\"type\":\"send\",\"to\":\"dev-{to}\",\"data\":\"{nonce}\"}'",
        ));
    }
    if let Some(url) = &a.publish_http {
        check_url(url).map_err(|why| PlanError::new(format!("--publish-http {why}")))?;
    }
    if a.mode == Mode::Unicast && !has_identity(&client) {
        return Err(PlanError::new(
            "--mode unicast needs each client to have its own identity: put {client} in the URL or a header (for example ?device=dev-{client})",
        ));
    }
    if let Some(r) = a.expect_ratio.filter(|r| !(*r > 0.0 && *r <= 1.0)) {
        return Err(PlanError::new(format!("--expect-ratio {r}: write a share above 0 and at most 1, such as 0.99")));
    }
    let rounds = a.messages.unwrap_or(a.clients);
    if rounds == 0 {
        return Err(PlanError::new("--messages must be at least 1"));
    }
    let tracked = u64::from(rounds) * u64::from(a.clients);
    if tracked > MAX_TRACKED {
        return Err(PlanError::new(format!(
            "--messages {rounds} × --clients {} = {tracked} (message, client) pairs to track, over the {MAX_TRACKED} one run holds: lower --messages",
            a.clients
        )));
    }
    let shard = shard_plan(a, &client)?;
    Ok(FanoutPlan {
        shard,
        client,
        clients: a.clients,
        mode: a.mode,
        audience: a.audience,
        rounds,
        publish,
        publish_http: a.publish_http.clone(),
        wait: a.wait,
        settle: a.settle,
        interval: a.interval,
        expect_ratio: a.expect_ratio,
        progress: crate::report::progress::wanted(a.client.output.json, a.client.output.quiet),
    })
}

/// The sharding: a shard needs a URL and a shared start.
fn shard_plan(a: &FanoutArgs, client: &ClientPlan) -> Result<crate::shard::ShardPlan, PlanError> {
    let shard = crate::shard::ShardPlan::from_args(&a.shard, |k| std::env::var(k).ok())?;
    shard.check(a.clients, matches!(client.target, Target::Embedded(_)))?;
    if shard.is_sharded() && shard.start_at.is_none() {
        return Err(PlanError::new(
            "a sharded fanout needs --start-at: every shard must be connected before any of them publishes",
        ));
    }
    Ok(shard)
}

/// The message template: the user's, or the reference server's protocol.
fn template(a: &FanoutArgs, client: &ClientPlan) -> Result<String, PlanError> {
    match (&a.publish, &client.target) {
        (Some(text), _) => Ok(text.clone()),
        (None, Target::Embedded(_)) if a.publish_http.is_none() => Ok(match a.mode {
            Mode::Broadcast => DEFAULT_BROADCAST.to_string(),
            Mode::Unicast => DEFAULT_UNICAST.to_string(),
        }),
        _ => Err(PlanError::new(
            "--publish is required with a URL (or --publish-http): the message your server routes, with {nonce} in it, such as --publish '{\"type\":\"broadcast\",\"data\":\"{nonce}\"}'",
        )),
    }
}

/// True when clients get distinct identities (the embedded server's URL
/// always has one).
fn has_identity(client: &ClientPlan) -> bool {
    match &client.target {
        Target::Embedded(_) => true,
        Target::Url(url) => has_client_template(url) || client.headers.iter().any(|h| has_client_template(&h.value)),
    }
}
