//! The server's shared book-keeping: which identities are connected, how
//! many slots are taken, recent accepts per client IP, and counters for
//! `/health`. Admission decides in one critical section (a std Mutex, never
//! held across an await), so duplicate checks cannot race.
//!
//! The faults live here too: `leak-slots` never gives a slot back and
//! `stale-identity` never forgets an identity.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Notify;

use super::config::{DuplicatePolicy, Fault, ServerConfig};

/// Most messages queued for one connection before deliveries are refused.
const INBOX_LIMIT: usize = 1024;

/// Something another task asks a connection to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Close with this code and reason (replace policy).
    Close(u16, &'static str),
    /// Send this text (routing between identities).
    Deliver(String),
}

/// A connection's mailbox: other tasks push [`Control`]s and wake it.
#[derive(Debug, Default)]
pub struct Mailbox {
    /// Wakes the connection task.
    pub notify: Notify,
    inbox: Mutex<VecDeque<Control>>,
}

impl Mailbox {
    /// Queues a control and wakes the connection; false when the inbox is full.
    pub fn push(&self, control: Control) -> bool {
        let Ok(mut inbox) = self.inbox.lock() else {
            return false;
        };
        if inbox.len() >= INBOX_LIMIT {
            return false;
        }
        inbox.push_back(control);
        drop(inbox);
        self.notify.notify_one();
        true
    }

    /// Takes everything queued.
    pub fn drain(&self) -> Vec<Control> {
        self.inbox.lock().map(|mut q| q.drain(..).collect()).unwrap_or_default()
    }
}

/// Why the server refused an upgrade; also the key in `/health` rejections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    /// Identity already connected (409).
    Duplicate,
    /// Per-IP rate limit (429).
    RateLimit,
    /// Max clients reached (503).
    MaxClients,
    /// Not a WebSocket upgrade (400/426).
    BadRequest,
    /// The request did not arrive within the handshake timeout (408).
    HandshakeTimeout,
    /// The request head was too large (431).
    HeadTooLarge,
}

impl RejectReason {
    /// The `/health` key.
    pub fn key(self) -> &'static str {
        match self {
            RejectReason::Duplicate => "duplicate",
            RejectReason::RateLimit => "rate-limit",
            RejectReason::MaxClients => "max-clients",
            RejectReason::BadRequest => "bad-request",
            RejectReason::HandshakeTimeout => "handshake-timeout",
            RejectReason::HeadTooLarge => "head-too-large",
        }
    }
}

/// A refused upgrade, ready to be written as an HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Why.
    pub reason: RejectReason,
    /// HTTP status.
    pub status: u16,
    /// Response body.
    pub body: String,
    /// Retry-After seconds.
    pub retry_after: Option<u64>,
}

/// An admitted connection's place in the registry.
#[derive(Debug)]
pub struct Ticket {
    /// Connection id (unique per server run).
    pub id: u64,
    /// Its identity, if the request carried one.
    pub identity: Option<String>,
    /// Its mailbox.
    pub mailbox: Arc<Mailbox>,
}

#[derive(Debug)]
struct Member {
    id: u64,
    mailbox: Arc<Mailbox>,
    live: bool,
}

/// `/health` numbers.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Health {
    /// Connections open now.
    pub open_connections: usize,
    /// Identities registered now (stale ones included).
    pub identities: usize,
    /// Max-clients slots taken (leaked ones included).
    pub slots_in_use: usize,
    /// The max-clients setting.
    pub max_clients: Option<usize>,
    /// Upgrades accepted since start.
    pub accepted_total: u64,
    /// Connections closed since start.
    pub closed_total: u64,
    /// Refused upgrades by reason.
    pub rejections: BTreeMap<String, u64>,
}

/// The registry itself.
#[derive(Debug, Default)]
pub struct Registry {
    next_id: u64,
    identities: HashMap<String, Vec<Member>>,
    open: usize,
    slots: usize,
    accepts_by_ip: HashMap<IpAddr, VecDeque<Instant>>,
    accepted_total: u64,
    closed_total: u64,
    rejections: BTreeMap<RejectReason, u64>,
}

impl Registry {
    /// Decides whether a new connection may upgrade, and registers it if so.
    pub fn admit(
        &mut self,
        cfg: &ServerConfig,
        ip: IpAddr,
        identity: Option<String>,
        now: Instant,
    ) -> Result<Ticket, Refusal> {
        let decision = self
            .check_rate(cfg, ip, now)
            .and_then(|()| self.check_duplicate(cfg, identity.as_deref()))
            .and_then(|()| self.check_capacity(cfg));
        if let Err(refusal) = decision {
            self.count_rejection(refusal.reason);
            return Err(refusal);
        }
        if cfg.rate_limit.is_some() {
            self.accepts_by_ip.entry(ip).or_default().push_back(now);
        }
        self.next_id += 1;
        self.open += 1;
        self.slots += 1;
        self.accepted_total += 1;
        let mailbox = Arc::new(Mailbox::default());
        if let Some(id) = &identity {
            self.identities.entry(id.clone()).or_default().push(Member {
                id: self.next_id,
                mailbox: mailbox.clone(),
                live: true,
            });
        }
        Ok(Ticket { id: self.next_id, identity, mailbox })
    }

    fn check_rate(&mut self, cfg: &ServerConfig, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let Some(rate) = cfg.rate_limit else {
            return Ok(());
        };
        let recent = self.accepts_by_ip.entry(ip).or_default();
        while recent.front().is_some_and(|t| now.duration_since(*t) >= rate.per) {
            recent.pop_front();
        }
        if recent.len() < rate.count as usize {
            return Ok(());
        }
        let oldest = recent.front().copied().unwrap_or(now);
        let wait = (oldest + rate.per).saturating_duration_since(now);
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Err(Refusal {
            reason: RejectReason::RateLimit,
            status: 429,
            body: format!("rate limit: {rate} connections per IP; retry in {retry_after}s"),
            retry_after: Some(retry_after.max(1)),
        })
    }

    fn check_duplicate(&mut self, cfg: &ServerConfig, identity: Option<&str>) -> Result<(), Refusal> {
        let Some(members) = identity.and_then(|id| self.identities.get(id)) else {
            return Ok(());
        };
        if members.is_empty() {
            return Ok(());
        }
        match cfg.duplicate {
            DuplicatePolicy::Reject => Err(Refusal {
                reason: RejectReason::Duplicate,
                status: 409,
                body: format!("identity '{}' is already connected", identity.unwrap_or_default()),
                retry_after: None,
            }),
            DuplicatePolicy::Replace => {
                for m in members.iter().filter(|m| m.live) {
                    m.mailbox.push(Control::Close(4000, "replaced"));
                }
                Ok(())
            }
            DuplicatePolicy::Allow => Ok(()),
        }
    }

    fn check_capacity(&self, cfg: &ServerConfig) -> Result<(), Refusal> {
        match cfg.max_clients {
            Some(max) if self.slots >= max => Err(Refusal {
                reason: RejectReason::MaxClients,
                status: 503,
                body: format!("server full: {}/{max} clients", self.slots),
                retry_after: Some(1),
            }),
            _ => Ok(()),
        }
    }

    /// Takes an identity off the books as soon as its connection starts
    /// closing, so an immediate reconnect is not refused (unless the
    /// stale-identity fault is on).
    pub fn leave_identity(&mut self, cfg: &ServerConfig, ticket: &Ticket) {
        let Some(identity) = &ticket.identity else {
            return;
        };
        let stale = cfg.has_fault(Fault::StaleIdentity);
        let Some(members) = self.identities.get_mut(identity) else {
            return;
        };
        if stale {
            members.iter_mut().filter(|m| m.id == ticket.id).for_each(|m| m.live = false);
            return;
        }
        members.retain(|m| m.id != ticket.id);
        if members.is_empty() {
            self.identities.remove(identity);
        }
    }

    /// Releases a closed connection's slot (unless the leak-slots fault is on).
    pub fn release(&mut self, cfg: &ServerConfig, ticket: &Ticket) {
        self.leave_identity(cfg, ticket);
        self.open = self.open.saturating_sub(1);
        self.closed_total += 1;
        if !cfg.has_fault(Fault::LeakSlots) {
            self.slots = self.slots.saturating_sub(1);
        }
    }

    /// Mailboxes of the live connections of an identity.
    pub fn route(&self, identity: &str) -> Vec<Arc<Mailbox>> {
        self.identities
            .get(identity)
            .map(|ms| ms.iter().filter(|m| m.live).map(|m| m.mailbox.clone()).collect())
            .unwrap_or_default()
    }

    /// Counts a refusal decided outside `admit` (bad requests, timeouts).
    pub fn count_rejection(&mut self, reason: RejectReason) {
        *self.rejections.entry(reason).or_default() += 1;
    }

    /// Forgets rate-limit windows that have expired, so memory stays bounded.
    pub fn prune(&mut self, cfg: &ServerConfig, now: Instant) {
        let window = cfg.rate_limit.map(|r| r.per).unwrap_or(Duration::ZERO);
        self.accepts_by_ip.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
    }

    /// The numbers `/health` shows.
    pub fn health(&self, cfg: &ServerConfig) -> Health {
        Health {
            open_connections: self.open,
            identities: self.identities.len(),
            slots_in_use: self.slots,
            max_clients: cfg.max_clients,
            accepted_total: self.accepted_total,
            closed_total: self.closed_total,
            rejections: self.rejections.iter().map(|(r, n)| (r.key().to_string(), *n)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Rate;

    fn ip() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    #[test]
    fn reject_policy_refuses_duplicates_until_release() {
        let cfg = ServerConfig::default();
        let mut reg = Registry::default();
        let now = Instant::now();
        let a = reg.admit(&cfg, ip(), Some("d1".into()), now).unwrap();
        let refusal = reg.admit(&cfg, ip(), Some("d1".into()), now).unwrap_err();
        assert_eq!(refusal.status, 409);
        reg.release(&cfg, &a);
        assert!(reg.admit(&cfg, ip(), Some("d1".into()), now).is_ok());
    }

    #[test]
    fn stale_identity_fault_never_forgets() {
        let cfg = ServerConfig { faults: vec![Fault::StaleIdentity], ..Default::default() };
        let mut reg = Registry::default();
        let now = Instant::now();
        let a = reg.admit(&cfg, ip(), Some("d1".into()), now).unwrap();
        reg.release(&cfg, &a);
        assert_eq!(reg.admit(&cfg, ip(), Some("d1".into()), now).unwrap_err().status, 409);
    }

    #[test]
    fn replace_policy_tells_the_old_connection() {
        let cfg = ServerConfig { duplicate: DuplicatePolicy::Replace, ..Default::default() };
        let mut reg = Registry::default();
        let now = Instant::now();
        let a = reg.admit(&cfg, ip(), Some("d1".into()), now).unwrap();
        assert!(reg.admit(&cfg, ip(), Some("d1".into()), now).is_ok());
        assert_eq!(a.mailbox.drain(), vec![Control::Close(4000, "replaced")]);
    }

    #[test]
    fn rate_limit_window_and_retry_after() {
        let cfg = ServerConfig { rate_limit: Some("2/10s".parse::<Rate>().unwrap()), ..Default::default() };
        let mut reg = Registry::default();
        let t0 = Instant::now();
        for _ in 0..2 {
            let t = reg.admit(&cfg, ip(), None, t0).unwrap();
            reg.release(&cfg, &t);
        }
        let refusal = reg.admit(&cfg, ip(), None, t0 + Duration::from_secs(3)).unwrap_err();
        assert_eq!((refusal.status, refusal.retry_after), (429, Some(7)));
        assert!(reg.admit(&cfg, ip(), None, t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(reg.health(&cfg).rejections.get("rate-limit"), Some(&1));
    }

    #[test]
    fn leak_slots_fault_keeps_the_cap_full() {
        let mut cfg = ServerConfig { max_clients: Some(1), ..Default::default() };
        let mut reg = Registry::default();
        let now = Instant::now();
        let a = reg.admit(&cfg, ip(), None, now).unwrap();
        assert_eq!(reg.admit(&cfg, ip(), None, now).unwrap_err().status, 503);
        reg.release(&cfg, &a);
        let b = reg.admit(&cfg, ip(), None, now).unwrap();
        cfg.faults.push(Fault::LeakSlots);
        reg.release(&cfg, &b);
        assert_eq!(reg.admit(&cfg, ip(), None, now).unwrap_err().status, 503);
        assert_eq!(reg.health(&cfg).open_connections, 0);
        assert_eq!(reg.health(&cfg).slots_in_use, 1);
    }
}
