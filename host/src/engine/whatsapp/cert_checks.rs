//! Whether this binary verifies WhatsApp's Noise certificate chain, and what
//! a binary that does not is allowed to connect to.
//!
//! whatsapp-rust checks the certificate chain the server presents in the
//! Noise XX handshake against WhatsApp's root key; that check is what stops a
//! man in the middle from posing as WhatsApp. The tests pair wasap with a
//! WhatsApp simulator on loopback (`tests/whatsapp-sim`) whose chain is signed
//! by a root of its own, so test builds compile whatsapp-rust with the
//! `danger-skip-cert-chain-verify` feature, through wasap's own feature
//! `test-whatsapp-server` (host/Cargo.toml). Such a binary must never reach a
//! real (or impersonated) WhatsApp, so:
//! - it says so at start-up, at WARN ([`log_at_start`]), and in `--version`;
//! - [`check_url`] refuses every WhatsApp URL that is not a loopback address,
//!   the default one (WhatsApp's own server) included.
//!
//! Which kind of binary this is is not taken on the feature's word alone:
//! cargo unifies features across a build, so a combination of packages could
//! in principle switch the dependency's feature on without wasap's. The
//! answer is therefore measured ([`probe`]): a certificate chain with
//! all-zero signatures is handed to the very verification code linked into
//! this binary; if it passes, the check is off, whatever the features say.
//! A production build answers "on", and `.ci/run` asserts that on the built
//! binary's `--version`.

use std::net::IpAddr;
use std::sync::OnceLock;

use whatsapp_rust::buffa::{Message, MessageField};
use whatsapp_rust::wacore::noise::{HandshakeError, HandshakeUtils};
use whatsapp_rust::waproto::whatsapp::{self as wa, cert_chain::noise_certificate};

/// Whether whatsapp-rust verifies the server's Noise certificate chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseCertChecks {
    /// The production case: only WhatsApp's own servers get through XX.
    On,
    /// A test build: any server gets through XX; loopback only.
    Off,
}

impl NoiseCertChecks {
    /// What this binary does, measured once.
    pub fn current() -> NoiseCertChecks {
        static CURRENT: OnceLock<NoiseCertChecks> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            if cfg!(feature = "test-whatsapp-server") {
                NoiseCertChecks::Off
            } else {
                probe()
            }
        })
    }

    /// The phrase `--version` and the start-up log carry; CI greps the
    /// production binary's for "noise certificate checks: on".
    pub fn describe(self) -> &'static str {
        match self {
            NoiseCertChecks::On => "noise certificate checks: on",
            NoiseCertChecks::Off => {
                "noise certificate checks: OFF (test build): connects only to a WhatsApp simulator on loopback"
            }
        }
    }
}

/// The version `wasap --version` prints: the package version and whether
/// this binary checks WhatsApp's certificates.
pub fn version_line() -> &'static str {
    static LINE: OnceLock<String> = OnceLock::new();
    LINE.get_or_init(|| {
        format!(
            "{} ({})",
            env!("CARGO_PKG_VERSION"),
            NoiseCertChecks::current().describe()
        )
    })
}

/// Says at start-up which kind of binary this is: loudly when it is a test build.
pub fn log_at_start() {
    match NoiseCertChecks::current() {
        NoiseCertChecks::On => tracing::info!("noise certificate checks: on"),
        checks @ NoiseCertChecks::Off => tracing::warn!(
            "{}; this binary must not be deployed (build with `cargo build --release -p wasap`)",
            checks.describe()
        ),
    }
}

/// A WhatsApp URL this binary refuses to connect to.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeWhatsappUrl {
    #[error(
        "this is a test build (noise certificate checks: OFF): it connects only to a WhatsApp \
         simulator on loopback, and WhatsApp's own server is the default; set --whatsapp-url \
         (WASAP_WHATSAPP_URL) to the simulator's ws://127.0.0.1:PORT/ws/chat"
    )]
    Default,
    #[error(
        "this is a test build (noise certificate checks: OFF): it connects only to a WhatsApp \
         simulator on loopback, and {url} is not a loopback address (127.0.0.0/8 or [::1])"
    )]
    NotLoopback { url: String },
}

/// Whether the real engine may connect to `url` (`None`: WhatsApp's own
/// server). A production binary may connect anywhere; a test build only to a
/// loopback IP address. A host name is refused even when it is `localhost`:
/// what a name resolves to is not this binary's to vouch for.
pub fn check_url(url: Option<&str>) -> Result<(), UnsafeWhatsappUrl> {
    check_url_with(NoiseCertChecks::current(), url)
}

fn check_url_with(checks: NoiseCertChecks, url: Option<&str>) -> Result<(), UnsafeWhatsappUrl> {
    if checks == NoiseCertChecks::On {
        return Ok(());
    }
    let Some(url) = url else {
        return Err(UnsafeWhatsappUrl::Default);
    };
    let loopback = reqwest::Url::parse(url)
        .ok()
        .is_some_and(|parsed| matches!(parsed.scheme(), "ws" | "wss") && is_loopback_ip(&parsed));
    if loopback {
        Ok(())
    } else {
        Err(UnsafeWhatsappUrl::NotLoopback { url: url.to_owned() })
    }
}

/// Whether `url`'s host is a loopback IP address (127.0.0.0/8 or `[::1]`).
/// A name never is, `localhost` included. The one rule for everything a test
/// build may reach: its WhatsApp URL, and its media (`loopback_http.rs`).
pub(crate) fn is_loopback_ip(url: &reqwest::Url) -> bool {
    // An IPv6 host comes back in brackets; a name does not parse as an address.
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Hands whatsapp-rust's chain verification a chain whose two signatures are
/// all zeros, and otherwise well formed (issuer serials, the leaf's key
/// matching the server's static key): it passes only when the check is
/// skipped. Anything but the signature failure it must meet counts as "off",
/// so a probe that stopped working fails closed (loopback only), and CI's
/// `--version` check of the release binary would say so.
fn probe() -> NoiseCertChecks {
    let server_static = [0x5a; 32];
    match HandshakeUtils::verify_server_cert(&zero_signed_chain(&server_static), &server_static) {
        Err(HandshakeError::CertVerification(why)) if why.contains("signature") => NoiseCertChecks::On,
        _ => NoiseCertChecks::Off,
    }
}

/// The probe's chain: a leaf for `server_static`, issued by an intermediate
/// that names WhatsApp's root (issuer serial 0), both "signed" with zeros.
fn zero_signed_chain(server_static: &[u8; 32]) -> Vec<u8> {
    let intermediate = noise_certificate::Details {
        serial: Some(1),
        issuer_serial: Some(0),
        key: Some(vec![0xa5; 32]),
        not_before: Some(1_700_000_000),
        not_after: Some(4_000_000_000),
    };
    let leaf = noise_certificate::Details {
        serial: Some(2),
        issuer_serial: Some(1),
        key: Some(server_static.to_vec()),
        not_before: Some(1_700_000_000),
        not_after: Some(4_000_000_000),
    };
    let certificate = |details: noise_certificate::Details| wa::cert_chain::NoiseCertificate {
        details: Some(details.encode_to_vec()),
        signature: Some(vec![0; 64]),
    };
    wa::CertChain {
        leaf: MessageField::some(certificate(leaf)),
        intermediate: MessageField::some(certificate(intermediate)),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feature_and_the_measured_answer_agree() {
        // Built with `test-whatsapp-server` (every `cargo test --workspace`), the
        // probe's chain must pass: that proves it is well formed, so in a
        // production build its only failure is the zero signature.
        if cfg!(feature = "test-whatsapp-server") {
            assert_eq!(probe(), NoiseCertChecks::Off);
            assert_eq!(NoiseCertChecks::current(), NoiseCertChecks::Off);
            assert!(version_line().contains("noise certificate checks: OFF"));
        } else {
            assert_eq!(probe(), NoiseCertChecks::On);
            assert!(version_line().contains("noise certificate checks: on"));
        }
    }

    #[test]
    fn a_build_without_checks_connects_to_loopback_addresses_only() {
        let off = NoiseCertChecks::Off;
        for ok in [
            "ws://127.0.0.1:4100/ws/chat",
            "ws://127.8.9.10:1/ws/chat",
            "wss://[::1]:443/ws/chat",
        ] {
            assert!(check_url_with(off, Some(ok)).is_ok(), "{ok}");
        }
        assert!(matches!(check_url_with(off, None), Err(UnsafeWhatsappUrl::Default)));
        for refused in [
            "wss://web.whatsapp.com/ws/chat",
            "ws://localhost:4100/ws/chat",
            "ws://10.0.0.1:4100/ws/chat",
            "ws://0.0.0.0:4100/ws/chat",
            "ws://[::ffff:8.8.8.8]/ws/chat",
            "http://127.0.0.1:4100/ws/chat",
            "not a url",
        ] {
            assert!(
                matches!(
                    check_url_with(off, Some(refused)),
                    Err(UnsafeWhatsappUrl::NotLoopback { .. })
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_build_with_checks_connects_anywhere() {
        assert!(check_url_with(NoiseCertChecks::On, None).is_ok());
        assert!(check_url_with(NoiseCertChecks::On, Some("wss://web.whatsapp.com/ws/chat")).is_ok());
    }
}
