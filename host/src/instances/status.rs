//! The status machine of an instance, as API.md names the states.

use serde::Serialize;

/// Where an instance is in its life.
///
/// ```text
/// qr_required ──qr──► pairing ──scan──► online ◄──────────┐
///      ▲                                  │ drop          │ connected
///      │ pair again                       ▼               │
/// logged_out ◄──logout/unlink── disconnected ──backoff──► connecting
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not linked to a phone; a QR (or pair code) is needed.
    QrRequired,
    /// A pairing session is open, waiting for the phone.
    Pairing,
    /// Linked; the connection is being opened.
    Connecting,
    /// Linked and connected.
    Online,
    /// Linked, but the connection is down; it is retried with backoff.
    Disconnected,
    /// Was linked, then unlinked (logout from the API or the phone); can pair again.
    LoggedOut,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::QrRequired,
        Status::Pairing,
        Status::Connecting,
        Status::Online,
        Status::Disconnected,
        Status::LoggedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::QrRequired => "qr_required",
            Status::Pairing => "pairing",
            Status::Connecting => "connecting",
            Status::Online => "online",
            Status::Disconnected => "disconnected",
            Status::LoggedOut => "logged_out",
        }
    }

    /// Parses a stored status; `None` for text this version does not know
    /// (the caller picks a safe state from whether the instance is linked).
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(Status::parse("nonsense"), None);
    }
}
