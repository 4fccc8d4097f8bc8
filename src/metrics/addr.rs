//! `--metrics-addr`: where the metrics endpoint listens. A bare port
//! (`9464`, `:9464`) or `localhost:PORT` means loopback, so a soak never
//! exposes its metrics by accident; anything beyond loopback must be
//! written as an IP address (`0.0.0.0:9464`), never a host name.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Reads a `--metrics-addr` value.
pub fn parse(text: &str) -> Result<SocketAddr, String> {
    let loopback = |port: &str| {
        port.parse::<u16>()
            .map(|p| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p))
            .map_err(|_| format!("'{text}': '{port}' is not a port number"))
    };
    let text = text.trim();
    if let Some(port) = text.strip_prefix(':') {
        return loopback(port);
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return loopback(text);
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        return loopback(port);
    }
    text.parse::<SocketAddr>().map_err(|_| {
        format!(
            "'{text}' is not a port or an IP address with a port; write 9464 (loopback), 127.0.0.1:9464, or an explicit address such as 0.0.0.0:9464 to listen beyond loopback"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_alone_mean_loopback_and_other_addresses_must_be_explicit() {
        for loop_form in ["9464", ":9464", "localhost:9464", "127.0.0.1:9464"] {
            assert_eq!(parse(loop_form).unwrap(), "127.0.0.1:9464".parse().unwrap(), "{loop_form}");
        }
        assert_eq!(parse("0.0.0.0:9100").unwrap(), "0.0.0.0:9100".parse().unwrap());
        assert_eq!(parse("[::1]:0").unwrap(), "[::1]:0".parse().unwrap());
        assert!(parse("metrics.example.com:9464").unwrap_err().contains("explicit address"));
        assert!(parse("99999").unwrap_err().contains("not a port"));
        assert!(parse("0.0.0.0").is_err());
    }
}
