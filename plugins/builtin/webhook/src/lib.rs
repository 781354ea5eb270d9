//! webhook: the built-in webhook output.
//!
//! For every event it asks the host to deliver the event's payload in each configured
//! format (`sudevwa`, `gowa`) to that format's subscribers: the instance's webhooks of the
//! format whose event filter takes the event, and for `gowa` the global webhooks. A format
//! that has no payload for an event (the gowa format carries no QR codes, the sudevwa
//! format no reactions) is skipped. The host stores the requests in its durable outbox,
//! signs them per format and retries them; the event itself always continues.

use serde::Deserialize;
use wasap_plugin::events::Format;
use wasap_plugin::{Event, Outcome, Plugin, WebhookRequest, export_plugin};

/// The plugin's config (the manifest's `[config]` table).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The formats to deliver, of `sudevwa` and `gowa` (default: both).
    #[serde(default = "every_format")]
    pub formats: Vec<Format>,
}

fn every_format() -> Vec<Format> {
    Format::ALL.to_vec()
}

/// The webhook output.
pub struct Webhook {
    config: Config,
}

impl Plugin for Webhook {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = wasap_plugin::parse_config(config)?;
        Ok(Webhook { config })
    }

    fn handle(&mut self, event: Event) -> Outcome {
        requests(&self.config, &event)
            .into_iter()
            .fold(Outcome::cont(), Outcome::webhook)
    }
}

/// The webhook requests for `event`, one per format that carries it.
pub fn requests(config: &Config, event: &Event) -> Vec<WebhookRequest> {
    let mut formats = config.formats.clone();
    formats.dedup();
    formats
        .into_iter()
        .filter_map(|format| {
            let body = format.to_vec(event)?;
            Some(WebhookRequest::json_to_subscribers(
                format.name(),
                event.id.clone(),
                body,
            ))
        })
        .collect()
}

export_plugin!(Webhook);

#[cfg(test)]
mod tests;
