//! The `wasap` binary: parse the configuration, start logging, run the server
//! until Ctrl-C or SIGTERM.

use clap::{CommandFactory, FromArgMatches};
use wasap::config::{Cli, Command, PluginCommand};
use wasap::engine::whatsapp::cert_checks;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `--version` says whether this binary checks WhatsApp's Noise
    // certificates (CI asserts "noise certificate checks: on" on a release build).
    let matches = Cli::command().version(cert_checks::version_line()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Serve(config) => {
            private_umask();
            wasap::logging::init(&config.log);
            wasap::run(config, shutdown_signal()).await?;
        }
        Command::Plugin(PluginCommand::Run(run)) => {
            wasap::logging::init("warn");
            let report = wasap::plugins::trial::run(&run.component, run.manifest.as_deref(), &run.event).await?;
            print!("{report}");
        }
    }
    Ok(())
}

/// Whatever the server creates is its user's alone: all it writes is in the
/// data directory (the database with the WhatsApp device keys, media,
/// tokens, plugins and their compiled cache). The paths that create files
/// set 0600/0700 themselves (`wasap::private_fs`); the mask covers those
/// that cannot, such as files a library creates.
#[cfg(unix)]
fn private_umask() {
    // SAFETY: umask only replaces the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(not(unix))]
fn private_umask() {}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what service managers send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested");
}
