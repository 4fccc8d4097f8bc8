//! The publisher: round m published by client m mod N, over that client's
//! connection or with an HTTP POST. A round whose publisher could not
//! connect is skipped (and counted); unicast rounds address every other
//! open client.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::args::Mode;
use super::client::{Ctx, Outbound};
use super::http::HttpPublisher;
use super::layout::Layout;
use super::nonce::expand_publish;
use crate::units::ClientId;

/// What the publisher did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Messages handed to a connection or POSTed with a 2xx answer.
    pub sent: u64,
    /// POSTs that failed or got a non-2xx answer.
    pub failed: u64,
    /// Rounds skipped because their publisher was not connected.
    pub skipped_rounds: u32,
    /// The first publish failure, in words.
    pub first_failure: Option<String>,
    /// The rounds skipped, up to [`MAX_LISTED`] (merging shards needs them).
    pub unpublished_rounds: Vec<u32>,
}

/// Most skipped rounds listed by number.
pub const MAX_LISTED: usize = 100_000;

/// How to publish.
#[derive(Debug, Clone)]
pub struct Publishing {
    /// The message template.
    pub template: String,
    /// The numbering.
    pub layout: Layout,
    /// POST instead of sending over a connection.
    pub http: Option<HttpPublisher>,
    /// Pause between rounds.
    pub interval: std::time::Duration,
    /// Whose rounds this process publishes (a shard: its clients' only).
    pub shard: crate::shard::ShardPlan,
}

/// One message to publish.
struct Item {
    id: u64,
    publisher: u32,
    to: Option<u32>,
}

/// The messages of `round`, addressed to the open clients.
fn round_items(layout: &Layout, round: u32, open: &[bool]) -> Vec<Item> {
    let publisher = layout.publisher_of_round(round);
    match layout.mode {
        Mode::Broadcast => vec![Item { id: u64::from(round), publisher, to: None }],
        Mode::Unicast => (0..layout.clients)
            .filter(|&to| to != publisher && open[to as usize])
            .map(|to| Item { id: layout.unicast_id(round, to), publisher, to: Some(to) })
            .collect(),
    }
}

/// Publishes every round, until done or `stop`.
pub async fn run(
    how: &Publishing,
    ctx: &Arc<Ctx>,
    senders: &[Option<mpsc::Sender<Outbound>>],
    stop: &CancellationToken,
) -> Published {
    // Another shard's clients are taken to be open: only it knows.
    let open: Vec<bool> = senders.iter().enumerate().map(|(c, s)| s.is_some() || !how.shard.owns(c as u32)).collect();
    let mut done = Published::default();
    for round in 0..how.layout.rounds {
        if stop.is_cancelled() {
            break;
        }
        let publisher = how.layout.publisher_of_round(round);
        if !how.shard.owns(publisher) {
            continue;
        }
        let Some(sender) = &senders[publisher as usize] else {
            done.skipped_rounds += 1;
            if done.unpublished_rounds.len() < MAX_LISTED {
                done.unpublished_rounds.push(round);
            }
            continue;
        };
        for item in round_items(&how.layout, round, &open) {
            let nonce = ctx.nonces.make(item.id, ctx.now_us());
            let text = expand_publish(&how.template, &nonce, item.to, ClientId::new(item.publisher));
            match &how.http {
                Some(http) => post(http, ctx, &item, &nonce, &text, &mut done).await,
                None => {
                    if sender.send(Outbound { id: item.id, text }).await.is_ok() {
                        done.sent += 1;
                    }
                }
            }
        }
        if !how.interval.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(how.interval) => {}
                _ = stop.cancelled() => {}
            }
        }
    }
    done
}

async fn post(http: &HttpPublisher, ctx: &Ctx, item: &Item, nonce: &str, body: &str, done: &mut Published) {
    let url = expand_publish(&http.url, nonce, item.to, ClientId::new(item.publisher));
    ctx.clock.mark(item.id, ctx.t0.elapsed().as_micros() as u64);
    let failure = match http.post(&url, body).await {
        Ok(status) if (200..300).contains(&status) => None,
        Ok(status) => Some(format!("POST {} answered HTTP {status}", crate::units::redact_url(&url))),
        Err(why) => Some(format!("POST {}: {why}", crate::units::redact_url(&url))),
    };
    match failure {
        None => done.sent += 1,
        Some(why) => {
            ctx.clock.unmark(item.id);
            done.failed += 1;
            done.first_failure.get_or_insert(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::Audience;
    use super::*;

    #[test]
    fn unicast_rounds_address_every_other_open_client() {
        let layout = Layout { mode: Mode::Unicast, audience: Audience::All, clients: 4, rounds: 4 };
        let items = round_items(&layout, 1, &[true, true, false, true]);
        let to: Vec<_> = items.iter().map(|i| i.to).collect();
        assert_eq!(to, [Some(0), Some(3)]);
        assert!(items.iter().all(|i| i.publisher == 1 && layout.recipient(i.id) == i.to));
    }
}
