//! webhook: the built-in webhook output.
//!
//! For every event it asks the host to deliver the event's payload in each configured
//! format (`sudevwa`, `gowa`) to that format's subscribers: the instance's webhooks of the
//! format whose event filter takes the event, and for `gowa` the global webhooks. A format
//! that has no payload for an event (the gowa format carries no QR codes, the sudevwa
//! format no reactions) is skipped. The host stores the requests in its durable outbox,
//! signs them per format and retries them; the event itself always continues.

use serde::Deserialize;
use wasap_plugin::events::{gowa, sudevwa};
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
    vec![Format::Sudevwa, Format::Gowa]
}

/// A payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Sudevwa,
    Gowa,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Sudevwa => "sudevwa",
            Format::Gowa => "gowa",
        }
    }

    /// The event's payload in this format, if the format carries the event.
    fn payload(self, event: &Event) -> Option<Vec<u8>> {
        match self {
            Format::Sudevwa => sudevwa::to_vec(event),
            Format::Gowa => gowa::to_vec(event),
        }
    }
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
            let body = format.payload(event)?;
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
