//! Benchmark: the plugin host (issue targets: one Rust plugin hop at most
//! 3 µs on a reused instance, with its ratio to the same work done natively;
//! at least 100,000 events per second per core through a chain of 3 Rust
//! plugins; instantiate and hot-reload times; the same figures for the
//! JavaScript and Python starters).
//!
//! Everything runs in this process on one tokio current-thread runtime, so
//! the event path uses one core (wasmtime's 1 ms epoch ticker is a second,
//! nearly idle thread). The plugins are built from source the way the tests
//! build them and loaded with the server's own loader, limits and chain:
//!
//! - **hop**: `RunningPlugin::handle` on a reused instance, the call the
//!   chain makes per plugin (fuel and deadline armed, the event lowered into
//!   the component, the outcome lifted back, stats recorded). The event is a
//!   text message that matches none of the bot's rules, so every keyword is
//!   tried and no host call is made.
//! - **native**: the same bot (`plugins/examples/auto-reply`, compiled
//!   natively) doing the same work on the same event, cloned per call as the
//!   host copies it into the component.
//! - **chain of 3**: `Chain::run` through three plugins, events per second.
//!   For Rust both the real mixed chain (spam-filter, redactor, auto-reply)
//!   and three copies of the bot; for JS and Python three copies of theirs.
//! - **compile**, **load cached**, **instantiate**: compiling the component
//!   (no artifact cache), loading it from the artifact cache, and a fresh
//!   instance with its `init` call.
//! - **hot reload**: `Registry::reload` of a changed plugin (a new build:
//!   compile, link, first instance, atomic swap), of one whose compiled
//!   artifact is cached (a changed manifest), and of files that did not
//!   change (read and hash only). The file watcher adds its 150 ms settle window.
//!
//! ```sh
//! cargo build --release --workspace --bins && /var/tmp/wasap-target/release/bench-plugins [--rounds 5] [--only rust|javascript|python]
//! ```
//!
//! Needs the wasm toolchain of docs/ARCHITECTURE.md, Node.js with npm and Python 3
//! (as the tests do). Method and results: BENCHMARKS.md.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasap::events::{Bus, Content, Event, EventKind, Message};
use wasap::outbound::{Requester, UrlPolicy};
use wasap::plugins::artifacts;
use wasap::plugins::bindings::wasap::plugin::types;
use wasap::plugins::chain::Chain;
use wasap::plugins::loader::{self, LoadedPlugin};
use wasap::plugins::registry::RegistryParts;
use wasap::plugins::runner::RunningPlugin;
use wasap::plugins::{HostServices, PluginEngine, PluginSettings, Registry};
use wasap::store::Store;
use wasap::system_events::SystemEvents;
use wasap::websocket::{Hub, HubSettings};
use wasap_plugin::Plugin as _;
use wasap_plugin_manifest::Manifest;
use wasap_tests::plugins::{component, manifest};

const USAGE: &str = "usage: bench-plugins [--rounds N] [--only rust|javascript|python]";

/// One language's bot and the plugins of its chains.
struct Subject {
    language: &'static str,
    bot: &'static str,
}

const SUBJECTS: [Subject; 3] = [
    Subject {
        language: "rust",
        bot: "plugins/examples/auto-reply",
    },
    Subject {
        language: "javascript",
        bot: "sdk/starters/javascript",
    },
    Subject {
        language: "python",
        bot: "sdk/starters/python",
    },
];

fn main() -> anyhow::Result<()> {
    let mut rounds = 5usize;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| anyhow::anyhow!(USAGE))?
            }
            "--only" => only = Some(args.next().ok_or_else(|| anyhow::anyhow!(USAGE))?),
            _ => anyhow::bail!(USAGE),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let scratch = tempfile::tempdir()?;
        let bench = Bench::new(scratch.path()).await?;
        for subject in SUBJECTS
            .iter()
            .filter(|s| only.as_deref().is_none_or(|l| l == s.language))
        {
            bench.run(subject, rounds).await?;
        }
        Ok(())
    })
}

struct Bench {
    engine: Arc<PluginEngine>,
    services: HostServices,
    scratch: std::path::PathBuf,
}

impl Bench {
    async fn new(scratch: &Path) -> anyhow::Result<Bench> {
        let engine = PluginEngine::shared().map_err(anyhow::Error::msg)?;
        let database = Store::open(&Store::sqlite_url_in(&scratch.join("db"))).await?;
        let services = HostServices {
            database,
            requester: Requester::new(UrlPolicy { allow_private: false })?,
            kv_max_bytes: PluginSettings::default().kv_max_bytes,
        };
        Ok(Bench {
            engine,
            services,
            scratch: scratch.to_path_buf(),
        })
    }

    /// The plugin in `crate_dir` (built once), loaded under `name`.
    fn load(&self, crate_dir: &str, name: &str, cache: Option<&Path>) -> anyhow::Result<LoadedPlugin> {
        let mut manifest = Manifest::parse(&manifest(crate_dir))?;
        manifest.name = name.to_owned();
        let loaded = loader::load_bytes(self.engine.engine(), manifest, &component(crate_dir), cache)?;
        // As the registry does once a plugin has started.
        if let Some(cache) = cache {
            artifacts::keep(cache, &loaded.digest, loaded.component());
        }
        Ok(loaded)
    }

    async fn running(&self, crate_dir: &str, name: &str) -> anyhow::Result<Arc<RunningPlugin>> {
        let plugin = RunningPlugin::new(self.load(crate_dir, name, None)?, self.services.clone());
        plugin
            .warm_up()
            .await
            .map_err(|f| anyhow::anyhow!("{name} does not start: {f}"))?;
        Ok(Arc::new(plugin))
    }

    async fn run(&self, subject: &Subject, rounds: usize) -> anyhow::Result<()> {
        let bytes = component(subject.bot).len();
        println!(
            "\n## {} ({}: component {} KiB)",
            subject.language,
            subject.bot,
            bytes / 1024
        );
        let event = no_match_event();

        // One hop on a reused instance.
        let bot = self.running(subject.bot, "bot").await?;
        let wit_event: types::Event = event.clone().into();
        let (outcome, fuel) = bot.handle(&wit_event).await.map_err(|(f, _)| anyhow::anyhow!("{f}"))?;
        anyhow::ensure!(outcome.actions.is_empty(), "the bench event must match no rule");
        let hop = measure(rounds, || async {
            let answer = bot.handle(&wit_event).await;
            std::hint::black_box(answer.is_ok());
        })
        .await;
        report("hop (reused instance)", &hop, &format!("{fuel} fuel"));

        if subject.language == "rust" {
            let config = Manifest::parse(&manifest(subject.bot))?.config_json();
            let mut native = auto_reply::AutoReply::init(&config).map_err(anyhow::Error::msg)?;
            let native_hop = measure(rounds, || {
                let outcome = native.handle(std::hint::black_box(event.clone()));
                std::hint::black_box(outcome);
                std::future::ready(())
            })
            .await;
            report("native, same work", &native_hop, "");
            println!("  hop / native: {:.1}x", hop.median / native_hop.median);
        }

        // Chains of three.
        let mut chains = vec![(
            "chain of 3 copies of the bot",
            vec![(subject.bot, "bot-1"), (subject.bot, "bot-2"), (subject.bot, "bot-3")],
        )];
        if subject.language == "rust" {
            chains.push((
                "chain of 3: spam-filter, redactor, auto-reply",
                vec![
                    ("plugins/examples/spam-filter", "spam-filter"),
                    ("plugins/examples/redactor", "redactor"),
                    (subject.bot, "auto-reply"),
                ],
            ));
        }
        for (label, members) in chains {
            let chain = Chain::default();
            let mut plugins = Vec::new();
            for (dir, name) in members {
                plugins.push(self.running(dir, name).await?);
            }
            chain.set(plugins);
            let outcome = chain.run(event.clone()).await;
            anyhow::ensure!(
                outcome.failures.is_empty() && outcome.event.is_some(),
                "the chain must pass the event on"
            );
            let per_event = measure(rounds, || async {
                let outcome = chain.run(event.clone()).await;
                std::hint::black_box(outcome.event.is_some());
            })
            .await;
            report(
                label,
                &per_event,
                &format!("{:.0} events/s on one core", 1.0 / per_event.median),
            );
        }

        // Compile, load from the artifact cache, instantiate.
        let cache = self.scratch.join(format!("cache-{}", subject.language));
        let compile = measure_n(rounds.min(3), || async {
            let _ = std::fs::remove_dir_all(&cache);
            std::hint::black_box(self.load(subject.bot, "bot", Some(&cache)).is_ok());
        })
        .await;
        report("compile (no cache)", &compile, "");
        let cached = measure_n(rounds * 4, || async {
            std::hint::black_box(self.load(subject.bot, "bot", Some(&cache)).is_ok());
        })
        .await;
        report("load from the artifact cache", &cached, "");
        let instantiate = measure_n(rounds * 20, || async {
            bot.drain();
            std::hint::black_box(bot.warm_up().await.is_ok());
        })
        .await;
        report("instantiate + init", &instantiate, "");

        // Hot reload through the registry, as the watcher triggers it.
        let dir = self.scratch.join(format!("plugins-{}", subject.language));
        std::fs::create_dir_all(&dir)?;
        let bot_manifest = manifest(subject.bot).replacen(
            &format!("name = \"{}\"", Manifest::parse(&manifest(subject.bot))?.name),
            "name = \"bot\"",
            1,
        );
        std::fs::write(dir.join("bot.toml"), &bot_manifest)?;
        std::fs::write(dir.join("bot.wasm"), component(subject.bot))?;
        let reload_cold = measure_n(rounds.min(3), || async {
            let registry = self.registry(&dir, &self.scratch.join(format!("reload-cache-{}", rand_suffix())));
            registry.reload("bot").await;
            std::hint::black_box(registry.info("bot").is_some_and(|info| info.running));
        })
        .await;
        report("hot reload, changed component (compile)", &reload_cold, "");
        let warm_cache = self.scratch.join(format!("reload-cache-{}", subject.language));
        let registry = self.registry(&dir, &warm_cache);
        registry.reload("bot").await;
        anyhow::ensure!(
            registry.info("bot").is_some_and(|info| info.running),
            "the reloaded plugin must run"
        );
        // Each round a new manifest (another version) over the same component:
        // loaded again, from the cached artifact.
        let round = std::sync::atomic::AtomicUsize::new(0);
        let reload_warm = measure_n(rounds * 4, || async {
            let n = round.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let versioned: String = bot_manifest
                .lines()
                .map(|line| match line.starts_with("version = ") {
                    true => format!("version = \"0.0.{n}\"\n"),
                    false => format!("{line}\n"),
                })
                .collect();
            std::fs::write(dir.join("bot.toml"), versioned).expect("write the manifest");
            registry.reload("bot").await;
        })
        .await;
        report("hot reload, artifact cached", &reload_warm, "");
        let unchanged = measure_n(rounds * 4, || async {
            registry.reload("bot").await;
        })
        .await;
        report("hot reload, unchanged files (skipped)", &unchanged, "");
        Ok(())
    }

    fn registry(&self, dir: &Path, cache: &Path) -> Registry {
        Registry::new(RegistryParts {
            engine: self.engine.clone(),
            dir: dir.to_path_buf(),
            cache_dir: cache.to_path_buf(),
            services: self.services.clone(),
            settings: PluginSettings::default(),
            chain: Arc::new(Chain::default()),
            system: SystemEvents::new(Bus::new(), Hub::new(HubSettings::default())),
            builtins: Vec::new(),
        })
    }
}

/// A unique-enough suffix for throwaway cache directories.
fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Seconds per iteration: the median and the spread over rounds.
struct Timing {
    median: f64,
    min: f64,
    max: f64,
}

/// Timed rounds of about 1 s each (after a 0.5 s warm-up), for fast operations.
async fn measure<F, Fut>(rounds: usize, mut op: F) -> Timing
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(500) {
        op().await;
    }
    let mut per_round = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let (started, mut n) = (Instant::now(), 0u64);
        while started.elapsed() < Duration::from_secs(1) {
            for _ in 0..256 {
                op().await;
            }
            n += 256;
        }
        per_round.push(started.elapsed().as_secs_f64() / n as f64);
    }
    summarise(per_round)
}

/// `n` single timed runs, for slow operations.
async fn measure_n<F, Fut>(n: usize, mut op: F) -> Timing
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut runs = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let started = Instant::now();
        op().await;
        runs.push(started.elapsed().as_secs_f64());
    }
    summarise(runs)
}

fn summarise(mut samples: Vec<f64>) -> Timing {
    samples.sort_by(f64::total_cmp);
    Timing {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
    }
}

fn report(label: &str, t: &Timing, extra: &str) {
    println!(
        "  {label:<48} {:>10} (min {}, max {}) {extra}",
        human(t.median),
        human(t.min),
        human(t.max)
    );
}

fn human(seconds: f64) -> String {
    match seconds {
        s if s < 1e-6 => format!("{:.0} ns", s * 1e9),
        s if s < 1e-3 => format!("{:.2} µs", s * 1e6),
        s if s < 1.0 => format!("{:.1} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

/// A text message from a contact that matches none of the bot's rules.
fn no_match_event() -> Event {
    Event {
        id: "bench-event".to_owned(),
        instance_id: "bench".to_owned(),
        at_us: 1_700_000_000_000_000,
        kind: EventKind::Message(Message {
            sender_lid: None,
            sender_phone: None,
            chat_lid: None,
            chat_phone: None,
            id: "3EB0BENCH".to_owned(),
            chat: "6281234567890@s.whatsapp.net".to_owned(),
            sender: "6281234567890@s.whatsapp.net".to_owned(),
            push_name: Some("Bench".to_owned()),
            from_me: false,
            is_group: false,
            timestamp: 1_700_000_000,
            content: Content::Text {
                text: "thanks, see you tomorrow at the usual place".to_owned(),
            },
            quoted: None,
            forwarded: false,
            view_once: false,
            ephemeral: None,
        }),
    }
}
