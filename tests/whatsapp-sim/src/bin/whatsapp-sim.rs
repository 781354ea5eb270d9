//! The simulator on its own, with its HTTP control API, for running the real
//! engine by hand (see the crate's README).

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use tokio::net::TcpListener;
use wasap_whatsapp_sim::{Simulator, control};

/// A WhatsApp server, phone and contacts on loopback.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Where the WhatsApp WebSocket listens (clients connect to ws://ADDR/ws/chat).
    #[arg(long, env = "WHATSAPP_SIM_LISTEN", default_value = "127.0.0.1:4100")]
    listen: SocketAddr,
    /// Where the HTTP control API listens.
    #[arg(long, env = "WHATSAPP_SIM_CONTROL", default_value = "127.0.0.1:4101")]
    control: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("whatsapp_sim=info")),
        )
        .init();
    let args = Args::parse();
    if !args.listen.ip().is_loopback() || !args.control.ip().is_loopback() {
        anyhow::bail!("the simulator only listens on loopback");
    }
    let sim = Arc::new(Simulator::bind(args.listen).await?);
    let listener = TcpListener::bind(args.control).await?;
    println!("WhatsApp WebSocket: {}", sim.ws_url());
    println!("control API:        http://{}", listener.local_addr()?);
    println!("media server:       http://{}", sim.media_host());
    tokio::select! {
        _ = control::serve(sim, listener) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
