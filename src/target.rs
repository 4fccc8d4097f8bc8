//! Turning a [`Target`] into something to connect to: a user's URL as is,
//! or the reference server started in-process on `127.0.0.1:0`, with a URL
//! template that gives each client its own identity (`dev-{client}`).

use crate::exit::PlanError;
use crate::net::endpoint::Endpoint;
use crate::plan::{ClientPlan, Target};
use crate::server::config::IdentitySource;
use crate::server::Embedded;
use crate::units::Header;

/// A target ready for clients.
#[derive(Debug)]
pub struct Resolved {
    /// How clients connect.
    pub endpoint: Endpoint,
    /// The target as reports show it (redacted).
    pub display: String,
    /// The embedded server, when there is one (stopped by [`Resolved::finish`]).
    pub server: Option<Embedded>,
}

impl Resolved {
    /// Stops the embedded server, if any.
    pub async fn finish(self) {
        if let Some(server) = self.server {
            server.stop().await;
        }
    }
}

/// Starts the embedded server when needed and builds the endpoint.
pub async fn resolve(plan: &ClientPlan) -> anyhow::Result<Resolved> {
    match &plan.target {
        Target::Url(url) => {
            let mut endpoint = plan.endpoint(url.clone(), Vec::new())?;
            if plan.pin_addresses {
                endpoint.pin_addresses().await?;
            }
            Ok(Resolved { display: endpoint.display(), endpoint, server: None })
        }
        Target::Embedded(cfg) => {
            let server = Embedded::start(cfg.clone())
                .await
                .map_err(|e| PlanError::new(format!("cannot start the embedded server on 127.0.0.1: {e}")))?;
            let (url, headers) = embedded_url(server.addr, &cfg.identity);
            let mut endpoint = plan.endpoint(url, headers)?;
            if plan.pin_addresses {
                endpoint.pin_addresses().await?;
            }
            let display = format!("{} (embedded: {})", endpoint.display(), cfg.summary());
            Ok(Resolved { endpoint, display, server: Some(server) })
        }
    }
}

/// The URL template (and identity header) for the embedded server.
pub fn embedded_url(addr: std::net::SocketAddr, identity: &IdentitySource) -> (String, Vec<Header>) {
    match identity {
        IdentitySource::Query(name) => (format!("ws://{addr}/ws?{name}=dev-{{client}}"), Vec::new()),
        IdentitySource::Header(name) => {
            (format!("ws://{addr}/ws"), vec![Header { name: name.clone(), value: "dev-{client}".into() }])
        }
    }
}
