//! What the location and contact-card sends of the [`Session`](super::Session)
//! seam carry.

/// A place to send: a pin on the map, optionally named.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingLocation {
    /// Degrees, -90 to 90.
    pub latitude: f64,
    /// Degrees, -180 to 180.
    pub longitude: f64,
    /// The place's name, shown above its address.
    pub name: Option<String>,
    pub address: Option<String>,
}

/// A contact card to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCard {
    /// The name WhatsApp shows on the card.
    pub display_name: String,
    /// The vCard (`BEGIN:VCARD` … `END:VCARD`).
    pub vcard: String,
}
