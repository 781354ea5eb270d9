//! The start most message tests share: on either engine, instance `shop`
//! linked and online, and WhatsApp's side of it. The server keeps the test's
//! database and data directory, so a test holds only what it uses.

use super::{Driver, EngineUnderTest, Whatsapp};
use crate::{TestDb, TestServer, data_dir};

/// Instance `shop` online on one engine.
pub struct OnlineShop {
    pub whatsapp: Whatsapp,
    pub server: TestServer,
    /// The instance's token.
    pub token: String,
    /// WhatsApp's side of the instance.
    pub driver: Driver,
}

impl OnlineShop {
    /// `shop` linked as `phone` on `engine`, online.
    pub async fn start(engine: EngineUnderTest, phone: &str) -> OnlineShop {
        OnlineShop::start_configured(engine, phone, |_| {}).await
    }

    /// [`OnlineShop::start`], on a server whose configuration `configure`
    /// changed first.
    pub async fn start_configured(
        engine: EngineUnderTest,
        phone: &str,
        configure: impl FnOnce(&mut wasap::Config),
    ) -> OnlineShop {
        let whatsapp = Whatsapp::start(engine).await;
        let db = TestDb::new().await;
        let dir = data_dir();
        let mut config = whatsapp.config(&db, dir.path());
        configure(&mut config);
        let mut server = TestServer::start_with(config).await;
        server.keep(db, dir);
        let token = whatsapp.online(&mut server, "shop", phone).await;
        let driver = whatsapp.driver(&server, "shop");
        OnlineShop {
            whatsapp,
            server,
            token,
            driver,
        }
    }
}
