//! `wasap plugin run FILE.wasm --event fixture.json`: a plugin run on
//! fixture events outside a server, for plugin authors. Each event goes
//! through the same loading, limits and outcome checks as in the server; the
//! report says what the plugin answered, what the host would refuse, and the
//! fuel and time each call took. Actions are shown, never carried out.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use super::chain::{Verdict, check};
use super::engine::PluginEngine;
use super::loader::{self, PluginFiles};
use super::runner::{HostServices, RunningPlugin};
use crate::events::Event;
use crate::outbound::{Requester, UrlPolicy};
use crate::store::Store;

/// Runs the plugin `component` (with `manifest`, by default `NAME.toml`
/// beside it) on every event in `events` (one event or an array, in the
/// canonical model's JSON); the report, one paragraph per event.
pub async fn run(component: &Path, manifest: Option<&Path>, events: &Path) -> anyhow::Result<String> {
    let manifest = manifest.map_or_else(|| component.with_extension("toml"), Path::to_path_buf);
    let events = read_events(events)?;
    let engine = PluginEngine::shared()?;
    // The plugin's key-value store lives in a throwaway database for the run.
    let scratch = std::env::temp_dir().join(format!("wasap-plugin-run-{}", std::process::id()));
    let database = Store::open(&Store::sqlite_url_in(&scratch)).await?;
    let files = PluginFiles {
        manifest,
        component: component.to_path_buf(),
    };
    let loaded = loader::load(engine.engine(), &files, None)?;
    let services = HostServices {
        database,
        requester: Requester::new(UrlPolicy { allow_private: false })?,
        kv_max_bytes: super::PluginSettings::default().kv_max_bytes,
    };
    let plugin = RunningPlugin::new(loaded, services);
    let report = async {
        plugin
            .warm_up()
            .await
            .map_err(|failure| anyhow::anyhow!("the plugin does not start: {failure}"))?;
        let mut report = String::new();
        for event in events {
            let started = Instant::now();
            let answer = plugin.handle(&event.clone().into()).await;
            let took = started.elapsed();
            let _ = writeln!(
                report,
                "event {} ({}, instance {:?}):",
                event.id,
                event.name(),
                event.instance_id
            );
            match answer {
                Ok((outcome, fuel)) => {
                    let _ = writeln!(report, "  fuel used: {fuel}, time: {took:?}");
                    match check(&plugin.loaded.manifest, &event, outcome) {
                        Ok((verdict, actions)) => {
                            match verdict {
                                Verdict::Continue => report.push_str("  verdict: continue\n"),
                                Verdict::Drop => report.push_str("  verdict: drop\n"),
                                Verdict::Replace(event) => {
                                    let _ =
                                        writeln!(report, "  verdict: replace with {}", serde_json::to_string(&event)?);
                                }
                            }
                            for action in actions {
                                let _ = writeln!(report, "  action: {action:?}");
                            }
                        }
                        Err(failure) => {
                            let _ = writeln!(report, "  refused by the host: {failure}");
                        }
                    }
                }
                Err((failure, _)) => {
                    let _ = writeln!(report, "  failed after {took:?}: {failure}");
                }
            }
        }
        Ok::<_, anyhow::Error>(report)
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    report
}

fn read_events(path: &Path) -> anyhow::Result<Vec<Event>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    let events = match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()?,
        single => vec![serde_json::from_value(single)?],
    };
    Ok(events)
}
