//! The start most message tests share: on either engine, instance `shop`
//! linked and online, and WhatsApp's side of it. A test destructures it,
//! keeping `db` and `dir` bound (as `_db`, `_dir` when unused) for its life.

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
    pub db: TestDb,
    pub dir: tempfile::TempDir,
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
        let token = whatsapp.online(&mut server, "shop", phone).await;
        let driver = whatsapp.driver(&server, "shop");
        OnlineShop {
            whatsapp,
            server,
            token,
            driver,
            db,
            dir,
        }
    }
}
