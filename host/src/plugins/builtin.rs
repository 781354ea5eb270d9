//! The built-in plugins: the outputs (`plugins/builtin/*`), compiled to wasm ahead of time
//! and embedded in the binary with their manifests, so a server runs them with no wasm
//! toolchain at hand.
//!
//! The components are committed as `host/builtin/NAME.wasm`; `wasap-plugin-build --builtin`
//! rebuilds them from source (byte for byte the same anywhere), and `.ci/run` fails when
//! the committed ones differ from what the source builds. Adding one is a line in [`ALL`]
//! and its committed `.wasm`.

/// The outputs' switches, the only part of the configuration the built-ins depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSwitches {
    /// Whether webhooks are sent (the `webhook` output).
    pub webhooks: bool,
    /// Whether the WebSocket routes are served (the `websocket` output).
    pub websocket: bool,
}

/// A plugin that ships inside the binary.
#[derive(Debug)]
pub struct Builtin {
    pub name: &'static str,
    /// `plugins/builtin/NAME/NAME.toml`.
    pub manifest: &'static str,
    /// `host/builtin/NAME.wasm`.
    pub component: &'static [u8],
    /// Whether the configuration wants it loaded at all (the output's own switch).
    pub wanted: fn(OutputSwitches) -> bool,
}

/// A built-in plugin by name, its manifest and component found by the layout above.
macro_rules! builtin {
    ($name:literal, $wanted:expr) => {
        Builtin {
            name: $name,
            manifest: include_str!(concat!("../../../plugins/builtin/", $name, "/", $name, ".toml")),
            component: include_bytes!(concat!("../../builtin/", $name, ".wasm")),
            wanted: $wanted,
        }
    };
}

/// Every built-in plugin.
pub static ALL: &[Builtin] = &[
    builtin!("webhook", |switches| switches.webhooks),
    builtin!("websocket", |switches| switches.websocket),
];

/// The built-in plugins `switches` switch on.
pub fn wanted(switches: OutputSwitches) -> Vec<&'static Builtin> {
    ALL.iter().filter(|builtin| (builtin.wanted)(switches)).collect()
}

/// Whether `name` belongs to a built-in plugin, loaded or not: the name stays reserved
/// even when its output is switched off, so turning the output back on finds no stranger.
pub fn is_reserved(name: &str) -> bool {
    ALL.iter().any(|builtin| builtin.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_crate_is_embedded_under_its_manifest_name() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/builtin");
        let mut crates: Vec<String> = std::fs::read_dir(&dir)
            .expect("plugins/builtin")
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        crates.sort();
        let mut embedded: Vec<String> = ALL.iter().map(|b| b.name.to_owned()).collect();
        embedded.sort();
        assert_eq!(
            embedded, crates,
            "every plugins/builtin/NAME is in builtin::ALL, and only those"
        );
        for builtin in ALL {
            let manifest = wasap_plugin_manifest::Manifest::parse(builtin.manifest).expect("a valid manifest");
            assert_eq!(manifest.name, builtin.name);
            assert!(builtin.component.starts_with(b"\0asm"), "{} is not wasm", builtin.name);
        }
    }

    #[test]
    fn the_websocket_output_follows_the_websocket_switch() {
        let mut config = crate::Config::with_data_dir("/nonexistent");
        assert!(wanted(config.output_switches()).iter().any(|b| b.name == "websocket"));
        config.enable_websocket = false;
        assert!(!wanted(config.output_switches()).iter().any(|b| b.name == "websocket"));
        assert!(is_reserved("websocket"));
    }

    #[test]
    fn the_websocket_output_takes_every_kind_but_those_the_host_publishes() {
        let manifest = ALL
            .iter()
            .find(|b| b.name == "websocket")
            .expect("the websocket output");
        let manifest = wasap_plugin_manifest::Manifest::parse(manifest.manifest).expect("a valid manifest");
        for kind in wasap_events::EventKind::NAMES {
            // The host publishes these to /ws itself (see the manifest).
            let by_the_host = matches!(kind, "plugin_error" | "system" | "queue_job");
            assert_eq!(
                manifest.wants_event(kind),
                !by_the_host,
                "websocket.toml's events and kind {kind}"
            );
        }
    }
}
