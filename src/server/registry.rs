//! One worker's book-keeping: which connections are open (the audience of a
//! broadcast), which identities are connected, how many slots are taken,
//! recent accepts per client IP, and counters for `/health`. Each worker
//! of `--workers K` has its own, as each uvicorn/gunicorn worker keeps its
//! own memory. Admission decides in one critical section (a std Mutex,
//! never held across an await), so duplicate checks cannot race.
//!
//! The faults live here too: `leak-slots` never gives a slot back and
//! `stale-identity` never forgets an identity.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::config::{DuplicatePolicy, Fault, ServerConfig};
pub use super::health::{Health, WorkerHealth};
use super::limits::RateLimiter;
pub use super::mailbox::{Control, Mailbox};

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
    /// Still waiting to upgrade when newer connections needed its place
    /// (closed without an answer; see `--max-handshakes`).
    HandshakeEvicted,
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
            RejectReason::HandshakeEvicted => "handshake-evicted",
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
    /// Connection id (unique within its worker).
    pub id: u64,
    /// The worker whose registry holds it.
    pub worker: usize,
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

/// One worker's registry.
#[derive(Debug, Default)]
pub struct Registry {
    worker: usize,
    next_id: u64,
    conns: HashMap<u64, Arc<Mailbox>>,
    identities: HashMap<String, Vec<Member>>,
    open: usize,
    slots: usize,
    limiter: RateLimiter,
    accepted_total: u64,
    closed_total: u64,
    rejections: BTreeMap<RejectReason, u64>,
}

impl Registry {
    /// The registry of worker `worker`.
    pub fn new(worker: usize) -> Registry {
        Registry { worker, ..Registry::default() }
    }

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
            // A full server that queues counts the refusal only if the
            // wait runs out (see `queue`).
            if !super::queue::queues(cfg, &refusal) {
                self.count_rejection(refusal.reason);
            }
            return Err(refusal);
        }
        if let Some(rate) = cfg.rate_limit {
            self.limiter.admitted(cfg.rate_limit_model, rate, ip, now);
        }
        self.next_id += 1;
        self.open += 1;
        self.slots += 1;
        self.accepted_total += 1;
        let mailbox = Arc::new(Mailbox::default());
        self.conns.insert(self.next_id, mailbox.clone());
        if let Some(id) = &identity {
            self.identities.entry(id.clone()).or_default().push(Member {
                id: self.next_id,
                mailbox: mailbox.clone(),
                live: true,
            });
        }
        Ok(Ticket { id: self.next_id, worker: self.worker, identity, mailbox })
    }

    fn check_rate(&mut self, cfg: &ServerConfig, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let Some(rate) = cfg.rate_limit else {
            return Ok(());
        };
        let wait = match self.limiter.attempt(cfg.rate_limit_model, rate, ip, now) {
            Ok(()) => return Ok(()),
            Err(wait) => wait,
        };
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
                    m.mailbox.close(4000, "replaced");
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

    /// Takes a connection off the books as soon as it starts closing: out
    /// of the broadcast audience (its mailbox refuses from now on), and its
    /// identity free, so an immediate reconnect is not refused (unless the
    /// stale-identity fault is on).
    pub fn leave_identity(&mut self, cfg: &ServerConfig, ticket: &Ticket) {
        if self.conns.remove(&ticket.id).is_some() {
            ticket.mailbox.shut();
        }
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

    /// Mailboxes of every open connection: the audience of a broadcast.
    /// One pass, reference counts only; the caller pushes after the lock
    /// is released.
    pub fn everyone(&self) -> Vec<Arc<Mailbox>> {
        self.conns.values().cloned().collect()
    }

    /// Counts a refusal decided outside `admit` (bad requests, timeouts).
    pub fn count_rejection(&mut self, reason: RejectReason) {
        *self.rejections.entry(reason).or_default() += 1;
    }

    /// Forgets rate-limit windows that have expired, so memory stays bounded.
    pub fn prune(&mut self, cfg: &ServerConfig, now: Instant) {
        self.limiter.prune(cfg.rate_limit, now);
    }

    /// This worker's `/health` numbers (delivery counters aside, which the
    /// worker keeps outside the lock).
    pub fn health(&self, cfg: &ServerConfig) -> Health {
        Health {
            open_connections: self.open,
            identities: self.identities.len(),
            slots_in_use: self.slots,
            max_clients: cfg.max_clients,
            accepted_total: self.accepted_total,
            closed_total: self.closed_total,
            rejections: self.rejections.iter().map(|(r, n)| (r.key().to_string(), *n)).collect(),
            queued_bytes: self.conns.values().map(|m| m.queued_bytes()).sum(),
            queue_limit_bytes: cfg.max_queue_bytes,
            workers: vec![WorkerHealth { worker: self.worker, open: self.open, identities: self.identities.len() }],
            ..Health::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Rate;
    use std::time::Duration;

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
        assert_eq!(a.mailbox.pop(), Some(Control::Close(4000, "replaced")));
        assert_eq!(a.mailbox.pop(), None);
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

    #[test]
    fn everyone_is_every_open_connection_until_it_leaves() {
        let cfg = ServerConfig::default();
        let mut reg = Registry::new(3);
        let now = Instant::now();
        let a = reg.admit(&cfg, ip(), Some("d1".into()), now).unwrap();
        let b = reg.admit(&cfg, ip(), None, now).unwrap();
        assert_eq!((a.worker, reg.everyone().len()), (3, 2));
        reg.leave_identity(&cfg, &b);
        assert_eq!(reg.everyone().len(), 1);
        assert!(matches!(b.mailbox.deliver(&"x".into(), 1024), super::super::mailbox::Push::Refused { .. }));
        reg.release(&cfg, &b);
        reg.release(&cfg, &a);
        assert!(reg.everyone().is_empty());
        assert_eq!(reg.health(&cfg).workers[0].worker, 3);
    }
}
