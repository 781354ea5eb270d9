//! The simulated engine: opens one [`SimSession`] per instance connection on
//! a [`SimNetwork`], logged straight in when the instance's device was paired
//! on an earlier start, waiting for a QR scan otherwise.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use whatsapp_rust::wacore::store::traits::DeviceStore;

use super::network::SimNetwork;
use super::session::SimSession;
use crate::engine::{Engine, EngineError, MediaFetch, Session, SessionRequest};

/// The simulated engine: opens sessions on a [`SimNetwork`].
pub struct SimEngine {
    network: SimNetwork,
    qr_interval: Duration,
}

impl SimEngine {
    /// An engine on `network` whose QR codes rotate every `qr_interval`.
    pub fn new(network: SimNetwork, qr_interval: Duration) -> SimEngine {
        SimEngine { network, qr_interval }
    }
}

#[async_trait]
impl Engine for SimEngine {
    async fn open(&self, request: SessionRequest) -> Result<Arc<dyn Session>, EngineError> {
        let device = &request.device;
        if !device.exists().await.map_err(store_error)? {
            device.create().await.map_err(store_error)?;
        }
        let stored = device.load().await.map_err(store_error)?;
        // A device with a phone number was paired on an earlier start: it
        // logs straight in, as a real linked device does.
        let linked = stored
            .as_ref()
            .and_then(|d| d.pn.as_ref().map(|pn| (pn.to_string(), d.push_name.clone())));

        let instance_id = request.instance_id.clone();
        let session = SimSession::new(request, self.network.clone(), linked.is_some());
        self.network.register(&instance_id, session.clone());

        match linked {
            Some((jid, push_name)) => {
                let push_name = Some(push_name).filter(|n| !n.is_empty());
                let session = session.clone();
                tokio::spawn(async move { session.logged_in(jid, push_name).await });
            }
            None => session.start_qr_rotation(self.qr_interval),
        }
        Ok(session)
    }

    fn forget(&self, instance_id: &str) {
        self.network.forget(instance_id);
    }

    fn media_from_ticket(&self, _instance_id: &str, ticket: bytes::Bytes) -> Option<Arc<dyn MediaFetch>> {
        Some(super::incoming::media_from_ticket(ticket))
    }
}

/// A device store error as the engine reports it.
pub(super) fn store_error(e: whatsapp_rust::wacore::store::error::StoreError) -> EngineError {
    EngineError::Protocol(format!("device store: {e}"))
}
