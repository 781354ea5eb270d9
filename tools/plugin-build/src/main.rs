//! wasap-plugin-build: one command from a plugin crate to a checked component.
//!
//! `wasap-plugin-build [PLUGIN_DIR...]` finds the plugin's manifest (the one `*.toml` beside
//! its `Cargo.toml` that is not `Cargo.toml`), compiles the crate's library for
//! `wasm32-unknown-unknown` as a cdylib, encodes the core module as a component with
//! wit-component, validates it, checks that it imports only what its manifest grants and
//! exports the plugin world, and writes `NAME.wasm` beside `NAME.toml` (or into `--out-dir`).
//!
//! A directory with a `package.json` instead is a JavaScript plugin (built with
//! componentize-js), one with an `app.py` a Python plugin (built with componentize-py); both
//! are checked the same way (see the SDK's README, "Plugins in JavaScript and Python").
//!
//! `wasap-plugin-build --builtin`, from the repository's root, rebuilds every built-in plugin
//! (`plugins/builtin/*`) into `host/builtin/` (or `--out-dir`), where the server embeds them;
//! `--test-components` rebuilds the plugins the test suite installs (`tests/plugins/*`,
//! `plugins/examples/*`) into `tests/components/`. Paths are remapped, so the bytes depend
//! on the source and the compiler only; both use Debian's rustc-web unless `--toolchain`
//! says otherwise, the compiler the committed components were built with.

use std::path::PathBuf;

use clap::Parser;
use wasap_plugin_build::{BuildOptions, CommittedSet, Toolchain, build};

/// Builds a wasap plugin crate into NAME.wasm beside its NAME.toml manifest.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The plugins' directories: each has NAME.toml beside Cargo.toml (Rust),
    /// package.json (JavaScript) or app.py (Python). Default: the current directory.
    plugin_dirs: Vec<PathBuf>,
    /// Rebuild every built-in plugin (plugins/builtin/*, from the repository's root) into
    /// host/builtin/, where the server embeds them.
    #[arg(long, conflicts_with_all = ["plugin_dirs", "from_module", "test_components"])]
    builtin: bool,
    /// Rebuild the plugins the test suite installs (tests/plugins/*, plugins/examples/*,
    /// from the repository's root) into tests/components/, where the tests read them.
    #[arg(long, conflicts_with_all = ["plugin_dirs", "from_module"])]
    test_components: bool,
    /// Where to write NAME.wasm (default: beside NAME.toml; host/builtin with --builtin,
    /// tests/components with --test-components).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Cargo's target directory for the wasm build, kept apart from native builds.
    #[arg(long, env = "WASAP_PLUGIN_TARGET_DIR")]
    target_dir: Option<PathBuf>,
    /// Which Rust toolchain compiles to wasm32 [default: auto; debian with --builtin or
    /// --test-components].
    #[arg(long, value_enum)]
    toolchain: Option<Toolchain>,
    /// Only encode, check and write this core module instead of compiling the crate.
    #[arg(long, value_name = "CORE.wasm")]
    from_module: Option<PathBuf>,
}

fn main() {
    let mut args = Args::parse();
    if args.from_module.is_some() && args.plugin_dirs.len() > 1 {
        eprintln!("wasap-plugin-build: --from-module takes one plugin directory");
        std::process::exit(2);
    }
    let mut options = BuildOptions {
        out_dir: args.out_dir.clone(),
        target_dir: args.target_dir.clone(),
        toolchain: args.toolchain.unwrap_or(Toolchain::Auto),
        from_module: args.from_module.clone(),
    };
    let committed = match (args.builtin, args.test_components) {
        (true, _) => Some(CommittedSet::Builtin),
        (_, true) => Some(CommittedSet::Test),
        _ => None,
    };
    if let Some(set) = committed {
        // The committed components were built with Debian's compiler: another one
        // builds other bytes.
        options.toolchain = args.toolchain.unwrap_or(Toolchain::Debian);
        options
            .out_dir
            .get_or_insert_with(|| PathBuf::from(set.components_dir()));
        args.plugin_dirs = set.crate_dirs(std::path::Path::new(".")).unwrap_or_else(|e| {
            eprintln!("wasap-plugin-build: {e:#}");
            std::process::exit(2);
        });
    } else if args.plugin_dirs.is_empty() {
        args.plugin_dirs.push(PathBuf::from("."));
    }
    let mut failed = false;
    for dir in &args.plugin_dirs {
        match build(dir, &options) {
            Ok(built) => {
                match built.core_bytes {
                    Some(core) => println!(
                        "{}: {} bytes (core module {core} bytes)",
                        built.path.display(),
                        built.component_bytes
                    ),
                    None => println!(
                        "{}: {} bytes ({})",
                        built.path.display(),
                        built.component_bytes,
                        built.language.tag()
                    ),
                }
                println!("  imports: {}", list(&built.imports));
                println!("  exports: {}", list(&built.exports));
            }
            Err(err) => {
                eprintln!("wasap-plugin-build: {}: {err:#}", dir.display());
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}
