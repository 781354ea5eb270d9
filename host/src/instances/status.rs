//! The status machine of an instance, as docs/API.md names the states.

/// Where an instance is in its life (the canonical model's `InstanceStatus`).
///
/// ```text
/// qr_required ──qr──► pairing ──scan──► online ◄──────────┐
///      ▲                                  │ drop          │ connected
///      │ pair again                       ▼               │
/// logged_out ◄──logout/unlink── disconnected ──backoff──► connecting
///                                                          ▲
///                         online ──temporary ban──► banned ─┘ when the ban ends
/// ```
pub use crate::events::InstanceStatus as Status;

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
