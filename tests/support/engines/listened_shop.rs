//! The start the message-action tests share: on either engine, instance
//! `shop` online and a listener on its events.

use super::{Driver, EngineUnderTest, OnlineShop, Whatsapp};
use crate::websocket::{Token, WsClient, open};
use crate::{Api, TestServer};

/// Instance `shop` online on one engine, listened to.
pub struct ListenedShop {
    pub whatsapp: Whatsapp,
    pub server: TestServer,
    /// The instance's token.
    pub token: String,
    /// `/api/listen/shop`, opened once the instance was online.
    pub listener: WsClient,
    /// WhatsApp's side of the instance.
    pub driver: Driver,
}

impl ListenedShop {
    /// `shop` linked as `phone` on `engine`.
    pub async fn start(engine: EngineUnderTest, phone: &str) -> ListenedShop {
        let OnlineShop {
            whatsapp,
            server,
            token,
            driver,
        } = OnlineShop::start(engine, phone).await;
        let listener = open(&server, "/api/listen/shop", Token::Query(&token)).await;
        ListenedShop {
            whatsapp,
            server,
            token,
            listener,
            driver,
        }
    }

    /// The API with the instance's token.
    pub fn api(&self) -> Api {
        self.server.client(Some(&self.token))
    }

    /// Stops the server and checks the simulator answered everything.
    pub async fn finish(self) {
        self.server.stop().await;
        self.whatsapp.assert_all_handled();
    }
}
