//! The one typed configuration, from command-line flags and environment variables.
//!
//! Every setting has a flag and an environment variable (named in API.md where
//! the contract names one); flags win over the environment. Validation happens
//! here, at start-up, so a bad setting stops the server with a clear message
//! instead of failing later.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::store::Store;

/// Command line of the `wasap` binary.
#[derive(Debug, Parser)]
#[command(name = "wasap", version, about = "Self-hosted WhatsApp automation server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What the binary is asked to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(Config),
}

/// Settings of a running server.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, env = "WASAP_LISTEN", default_value = "127.0.0.1:2121")]
    pub listen: SocketAddr,

    /// Directory for the SQLite database, the generated admin token and media.
    #[arg(long, env = "WASAP_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL (postgres://...) or SQLite URL (sqlite://...).
    /// Default: an SQLite file `wasap.db` in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Admin API token. Default: generated on first start and kept in the data directory.
    #[arg(long, env = "WASAP_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// Log filter, in tracing's env-filter syntax (e.g. `info`, `wasap=debug`).
    #[arg(long, env = "WASAP_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// The configuration with every default, data kept in `data_dir`:
    /// what `wasap serve` uses with no flags or environment, and what tests
    /// start from.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        let Command::Serve(mut config) = Cli::parse_from(["wasap", "serve"]).command;
        config.data_dir = data_dir.into();
        config
    }

    /// The database URL in effect: `DATABASE_URL`, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => Store::sqlite_url_in(&self.data_dir),
        }
    }
}
