//! The `connect` section of the human output: phases, response headers and
//! the conversation, in the order they happened.

use comfy_table::Cell;

use super::ConnectDetails;
use crate::net::tls::info::TlsInfo;
use crate::report::safe::{clip, line};
use crate::report::table::{table, Style};

/// Characters of a message shown in the table (`--json` has all of it).
const SHOWN: usize = 200;
/// Characters of a step's detail shown (a refusal body can be 2 KiB).
const DETAIL: usize = 600;

/// Renders the phases, headers and messages of a `connect` run.
pub fn render(d: &ConnectDetails, style: Style) -> String {
    let mut t = table(style, &["phase", "time", "result"]);
    for s in &d.steps {
        let time = s.ms.map(|ms| format!("{ms:.2} ms")).unwrap_or_else(|| "-".into());
        let mark = if s.ok { "" } else { "✗ " };
        let phase = if s.phase == "app" { "app ready" } else { s.phase.as_str() };
        t.add_row(vec![Cell::new(phase), Cell::new(time), Cell::new(format!("{mark}{}", clip(&s.detail, DETAIL)))]);
    }
    let mut out = format!("{t}\n");
    if !d.response_headers.is_empty() {
        out.push_str("\nResponse headers:\n");
        for (name, value) in &d.response_headers {
            out.push_str(&format!("  {}: {}\n", line(name), line(value)));
        }
    }
    if d.http_status == Some(101) {
        out.push_str(&format!(
            "\nSubprotocol: {}   Extensions: {}\n",
            line(d.subprotocol.as_deref().unwrap_or("none")),
            line(d.extensions.as_deref().unwrap_or("none")),
        ));
        if let Some(deflate) = &d.deflate {
            out.push_str(&super::deflate::line(deflate));
        }
    }
    if let Some(tls) = &d.tls {
        out.push_str(&tls_block(tls));
    }
    if let Some(app) = d.app.as_ref().filter(|a| !a.exchange.is_empty()) {
        let mut m = table(style, &["at", "", "application handshake"]);
        for line in &app.exchange {
            let arrow = if line.direction == "out" { "→" } else { "←" };
            m.add_row(vec![Cell::new(format!("{:.1} ms", line.at_ms)), Cell::new(arrow), Cell::new(&line.text)]);
        }
        out.push_str(&format!("\n{m}\n"));
    }
    if !d.messages.is_empty() {
        out.push_str(&format!("\n{}\n", messages(d, style)));
    }
    out.push('\n');
    out
}

/// The conversation: each message with its time and direction; binary
/// ones as their length and first bytes in hex.
fn messages(d: &ConnectDetails, style: Style) -> comfy_table::Table {
    let mut m = table(style, &["at", "", "kind", "data"]);
    for (i, msg) in d.messages.iter().enumerate() {
        if i == super::transcript::KEEP {
            if let Some(n) = d.messages_omitted {
                m.add_row(vec![
                    Cell::new("…"),
                    Cell::new(""),
                    Cell::new(""),
                    Cell::new(format!("{n} more messages not kept")),
                ]);
            }
        }
        let arrow = if msg.direction == "out" { "→" } else { "←" };
        m.add_row(vec![
            Cell::new(format!("{:.1} ms", msg.at_ms)),
            Cell::new(arrow),
            Cell::new(msg.kind),
            Cell::new(match msg.bytes {
                Some(n) => super::payload::hex_preview(&msg.data, n),
                None => clip(&msg.data, SHOWN),
            }),
        ]);
    }
    m
}

/// The TLS session and the server's certificate.
fn tls_block(tls: &TlsInfo) -> String {
    let mut out = format!("\nTLS: {}\n", line(&tls.summary()));
    if let Some(c) = &tls.certificate {
        let names = if c.sans.is_empty() { "none (no subjectAltName)".to_string() } else { c.sans.join(", ") };
        let warn = if c.expires_soon() { " ⚠" } else { "" };
        out.push_str(&format!(
            "Certificate: {}\n  issuer:  {}\n  names:   {}\n  valid:   {} → {} (expires in {:.1} days{warn})\n",
            line(&c.subject),
            line(&c.issuer),
            line(&names),
            c.not_before,
            c.not_after,
            c.expires_in_days
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::connect::Traffic;

    #[test]
    fn twenty_one_mib_messages_render_fast_and_small() {
        let big = "m".repeat(1 << 20);
        let messages =
            (0..20).map(|i| Traffic { at_ms: i as f64, direction: "in", kind: "text", data: big.clone(), bytes: None });
        let d = ConnectDetails { http_status: Some(101), messages: messages.collect(), ..ConnectDetails::default() };
        let started = std::time::Instant::now();
        let out = render(&d, Style::default());
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(out.matches("… (1048576 bytes)").count(), 20);
        assert!(out.len() < 40_000, "{} bytes", out.len());
    }
}
