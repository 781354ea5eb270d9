//! The tests' wasap is a test build (whatsapp-rust skips the Noise
//! certificate check, so the real engine can pair with the simulator): it
//! knows it, and it refuses to start the real engine on any WhatsApp URL that
//! is not a loopback address, WhatsApp's own default included. A production
//! build says "noise certificate checks: on" in `--version` (`.ci/run` checks
//! the release binary).

use wasap::engine::EngineKind;
use wasap::engine::whatsapp::{NoiseCertChecks, UnsafeWhatsappUrl, WhatsappEngine, WhatsappEngineConfig};
use wasap::server::StartError;
use wasap_tests::{TestDb, data_dir, sim_config};

#[tokio::test]
async fn a_test_build_refuses_a_whatsapp_url_off_loopback() {
    assert_eq!(
        NoiseCertChecks::current(),
        NoiseCertChecks::Off,
        "the tests build wasap with test-whatsapp-server"
    );
    let refused = [
        None,
        Some("wss://web.whatsapp.com/ws/chat"),
        Some("ws://192.0.2.10:443/ws/chat"),
        Some("ws://localhost:4100/ws/chat"),
    ];
    for url in refused {
        let db = TestDb::new().await;
        let dir = data_dir();
        let mut config = sim_config(&db, dir.path());
        config.engine = EngineKind::Whatsapp;
        config.whatsapp_url = url.map(str::to_owned);
        match wasap::Server::bind(config).await {
            Err(StartError::WhatsappUrl(refusal)) => {
                let message = refusal.to_string();
                assert!(
                    message.contains("test build") && message.contains("loopback"),
                    "{url:?}: {message}"
                );
                assert_eq!(url.is_none(), matches!(refusal, UnsafeWhatsappUrl::Default));
            }
            Err(other) => panic!("{url:?}: refused for another reason: {other}"),
            Ok(_) => panic!("a test build started the real engine on {url:?}"),
        }
        // Refused before the data directory (and its database) was touched.
        let left = std::fs::read_dir(dir.path()).expect("the data directory").count();
        assert_eq!(left, 0, "{url:?}: the refused start wrote to the data directory");

        // The engine itself refuses it too, for whoever builds one without a server.
        let engine = WhatsappEngine::new(WhatsappEngineConfig {
            transport_url: url.map(str::to_owned),
            ..Default::default()
        });
        assert!(engine.is_err(), "{url:?}: the engine was built");
    }

    // A loopback address starts (nothing needs to listen there to start).
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut config = sim_config(&db, dir.path());
    config.engine = EngineKind::Whatsapp;
    config.whatsapp_url = Some("ws://127.0.0.1:9/ws/chat".to_owned());
    let server = wasap::Server::bind(config).await;
    assert!(server.is_ok(), "a loopback URL was refused");
}
