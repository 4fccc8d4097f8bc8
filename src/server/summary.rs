//! The one-line description of a [`ServerConfig`]: what `serve` prints in
//! its banner, embedded targets show in reports, and `/health` returns, so
//! a reader sees which behaviour produced a result.

use std::time::Duration;

use super::config::{CapMode, IdleReset, LimiterModel, ServerConfig};
use crate::units::format_duration;

impl ServerConfig {
    /// One line describing the non-default behaviour, for banners and tables.
    pub fn summary(&self) -> String {
        let mut parts =
            vec![format!("identity {}", self.identity), format!("duplicate {:?}", self.duplicate).to_lowercase()];
        let d = |d: Duration| format_duration(d);
        if let Some(r) = self.rate_limit {
            parts.push(format!("rate-limit {r}"));
        }
        if self.rate_limit.is_some() && self.rate_limit_model != LimiterModel::Window {
            parts.push(format!("rate-limit model {:?}", self.rate_limit_model).to_lowercase());
        }
        if let Some(m) = self.max_clients {
            let queue = if self.max_clients_mode == CapMode::Queue { " (queue)" } else { "" };
            parts.push(format!("max-clients {m}{queue}"));
        }
        if let Some(p) = self.ping_interval {
            parts.push(format!("ping every {}", d(p)));
        }
        if let Some(p) = self.pong_timeout {
            parts.push(format!("pong timeout {} ({})", d(p), self.pong_timeout_close));
        }
        if let Some(i) = self.idle_timeout {
            let data = if self.idle_reset == IdleReset::Data { " (data only)" } else { "" };
            parts.push(format!("idle timeout {}{data}", d(i)));
        }
        if let Some(t) = self.token_ttl {
            parts.push(format!("token ttl {}", d(t)));
        }
        if let Some(a) = self.drop_after {
            parts.push(format!("drop after {} ({:?})", d(a), self.drop_mode).to_lowercase());
        }
        if self.workers > 1 {
            parts.push(format!("{} workers", self.workers));
        }
        if self.backlog != super::config::DEFAULT_BACKLOG {
            parts.push(format!("backlog {}", self.backlog));
        }
        if let Some(text) = &self.app_ping {
            parts.push(format!("app ping {text} every {}", d(self.app_ping_interval)));
        }
        if let Some(regex) = &self.app_pong {
            parts.push(format!("app pong /{regex}/ within {}", d(self.app_pong_window())));
        }
        if let Some(regex) = &self.require_init {
            parts.push(format!("init /{regex}/ within {}", d(self.init_timeout)));
        }
        if self.deflate {
            parts.push("permessage-deflate".into());
        }
        for f in &self.faults {
            parts.push(format!("fault {}", f.name()));
        }
        parts.join(", ")
    }
}
