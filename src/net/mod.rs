//! The client side of the wire: opening connections phase by phase
//! (DNS, TCP, the proxy's tunnel, TLS, the upgrade and its redirects),
//! living with them, and knowing wsprobe's own limits.

pub mod app;
pub mod attempt;
pub mod bare_close;
pub mod connect;
pub mod deflate;
pub mod endpoint;
pub mod http;
pub mod inflate;
pub mod limits;
pub mod nopong;
pub mod out_frame;
mod phases;
pub mod proxy;
pub mod redirect;
pub mod refusal;
pub mod session;
pub mod stream;
pub mod tls;
pub mod upgrade;
pub mod wire;
