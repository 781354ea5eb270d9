//! The simulator's error type.

use thiserror::Error;

/// Everything that can go wrong inside the simulator or when a test drives it.
#[derive(Debug, Error)]
pub enum SimError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("noise handshake: {0}")]
    Handshake(String),
    #[error("binary node: {0}")]
    Node(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("signal: {0}")]
    Signal(String),
    #[error("pairing: {0}")]
    Pairing(String),
    #[error("unknown account {0}")]
    UnknownAccount(String),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(std::time::Duration, String),
    #[error("the simulator has shut down")]
    Closed,
}

impl From<wacore_noise::HandshakeError> for SimError {
    fn from(e: wacore_noise::HandshakeError) -> Self {
        SimError::Handshake(e.to_string())
    }
}

impl From<wacore_noise::NoiseError> for SimError {
    fn from(e: wacore_noise::NoiseError) -> Self {
        SimError::Handshake(e.to_string())
    }
}

impl From<wacore_binary::BinaryError> for SimError {
    fn from(e: wacore_binary::BinaryError) -> Self {
        SimError::Node(e.to_string())
    }
}

impl From<wacore_libsignal::protocol::SignalProtocolError> for SimError {
    fn from(e: wacore_libsignal::protocol::SignalProtocolError) -> Self {
        SimError::Signal(e.to_string())
    }
}

impl From<wacore_libsignal::protocol::CurveError> for SimError {
    fn from(e: wacore_libsignal::protocol::CurveError) -> Self {
        SimError::Signal(e.to_string())
    }
}

impl From<buffa::DecodeError> for SimError {
    fn from(e: buffa::DecodeError) -> Self {
        SimError::Protocol(format!("protobuf: {e}"))
    }
}

pub type Result<T, E = SimError> = std::result::Result<T, E>;
