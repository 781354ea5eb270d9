//! The `wasap` binary: parse the configuration, start logging, run the server
//! until Ctrl-C or SIGTERM.

use clap::Parser;
use wasap::config::{Cli, Command, PluginCommand};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => {
            init_logging(&config.log);
            wasap::run(config, shutdown_signal()).await?;
        }
        Command::Plugin(PluginCommand::Run(run)) => {
            init_logging("warn");
            let report = wasap::plugins::trial::run(&run.component, run.manifest.as_deref(), &run.event).await?;
            print!("{report}");
        }
    }
    Ok(())
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

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
