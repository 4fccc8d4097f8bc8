//! The `connect` section of the human output: phases, response headers and
//! the conversation, in the order they happened.

use comfy_table::Cell;

use super::ConnectDetails;
use crate::report::table::{table, Style};

/// Renders the phases, headers and messages of a `connect` run.
pub fn render(d: &ConnectDetails, style: Style) -> String {
    let mut t = table(style, &["phase", "time", "result"]);
    for s in &d.steps {
        let time = s.ms.map(|ms| format!("{ms:.2} ms")).unwrap_or_else(|| "-".into());
        let mark = if s.ok { "" } else { "✗ " };
        let phase = if s.phase == "app" { "app ready" } else { s.phase.as_str() };
        t.add_row(vec![Cell::new(phase), Cell::new(time), Cell::new(format!("{mark}{}", s.detail))]);
    }
    let mut out = format!("{t}\n");
    if !d.response_headers.is_empty() {
        out.push_str("\nResponse headers:\n");
        for (name, value) in &d.response_headers {
            out.push_str(&format!("  {name}: {value}\n"));
        }
    }
    if d.http_status == Some(101) {
        out.push_str(&format!(
            "\nSubprotocol: {}   Extensions: {}{}\n",
            d.subprotocol.as_deref().unwrap_or("none"),
            d.extensions.as_deref().unwrap_or("none"),
            d.tls.as_ref().map(|t| format!("   TLS: {t}")).unwrap_or_default()
        ));
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
        let mut m = table(style, &["at", "", "kind", "data"]);
        for msg in &d.messages {
            let arrow = if msg.direction == "out" { "→" } else { "←" };
            m.add_row(vec![
                Cell::new(format!("{:.1} ms", msg.at_ms)),
                Cell::new(arrow),
                Cell::new(msg.kind),
                Cell::new(&msg.data),
            ]);
        }
        out.push_str(&format!("\n{m}\n"));
    }
    out.push('\n');
    out
}
