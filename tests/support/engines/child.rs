//! The two engines for a server in a child process (`crate::child_server`),
//! for the tests that end it with `kill -9`: its `wasap serve` flags, and the
//! driver of WhatsApp's side of one of its instances.

use super::{Driver, Whatsapp};
use crate::child_server::ChildServer;

impl Whatsapp {
    /// The `wasap serve` flags that pick this engine: `--engine sim`, or the
    /// real engine pointed at the loopback simulator.
    pub fn engine_flags(&self) -> Vec<String> {
        match &self.simulator {
            None => vec!["--engine".to_owned(), "sim".to_owned()],
            Some(simulator) => vec![
                "--engine".to_owned(),
                "whatsapp".to_owned(),
                "--whatsapp-url".to_owned(),
                simulator.ws_url(),
            ],
        }
    }

    /// WhatsApp's side of instance `id` on the child server `server`.
    pub fn child_driver(&self, server: &ChildServer, id: &str) -> Driver {
        Driver {
            api: server.admin(),
            simulator: self.simulator.clone(),
            id: id.to_owned(),
        }
    }
}

/// A contact that sends an instance many texts, fast, whatever happens to
/// the server meanwhile: nothing is asked of the server after it is made,
/// and a request the server never answers (it was killed) is reported, not
/// a panic. Cheap to clone, for sending from many tasks.
#[derive(Clone)]
pub struct TextSender {
    from: String,
    to: Target,
}

#[derive(Clone)]
enum Target {
    /// `POST /sim/instances/{id}/incoming` with the admin token.
    Sim {
        http: reqwest::Client,
        url: String,
        token: String,
    },
    /// The simulator's contact, writing to the instance's account.
    Real {
        simulator: std::sync::Arc<wasap_whatsapp_sim::Simulator>,
        user: String,
    },
}

impl Driver {
    /// A [`TextSender`] for contact `from`, to this (linked) instance.
    pub async fn text_sender(&self, from: &str) -> TextSender {
        let to = match &self.simulator {
            None => Target::Sim {
                http: reqwest::Client::new(),
                url: format!("{}{}", self.api.base, self.route("incoming")),
                token: self.api.token.clone().expect("the admin token"),
            },
            Some(simulator) => Target::Real {
                simulator: simulator.clone(),
                user: self.linked_device().await.0,
            },
        };
        TextSender {
            from: from.to_owned(),
            to,
        }
    }
}

impl TextSender {
    /// Sends `text`; whether WhatsApp has it for the instance now. The
    /// simulator has whatever its contact sent (it keeps what the device has
    /// not acknowledged, and delivers it at the next login); the sim engine
    /// answers once wasap has journalled the message, so `false` there means
    /// the server went away first (it may or may not have journalled it).
    pub async fn send(&self, text: &str) -> bool {
        match &self.to {
            Target::Sim { http, url, token } => http
                .post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({ "from": self.from, "text": text }))
                .send()
                .await
                .is_ok_and(|response| response.status() == 200),
            Target::Real { simulator, user } => simulator.contact(&self.from).send_text(user, text).await.is_ok(),
        }
    }
}
