//! The checks a location or a set of contact cards passes before it is sent,
//! the same for every caller (the HTTP routes and the plugins' actions): what
//! is out of range or malformed is refused with the reason, before anything
//! reaches WhatsApp.

use super::recipient::{RecipientError, normalize_phone};
use super::vcard;
use crate::engine::{ContactCard, OutgoingLocation};

/// A place's name or address, at most.
pub const MAX_PLACE_TEXT_BYTES: usize = 1024;
/// A contact's name, at most.
pub const MAX_CONTACT_NAME_BYTES: usize = 256;
/// Cards in one contact message, at most.
pub const MAX_CARDS: usize = 20;

/// Why a location or a card cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum Unsendable {
    #[error("{0}")]
    Location(String),
    #[error("{0}")]
    Contact(String),
    #[error(transparent)]
    Phone(#[from] RecipientError),
}

/// A card as a caller describes it: a name, with a phone number or a whole
/// vCard (the body of a card in `POST /api/send/{id}/contact`, too).
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardRequest {
    /// The name shown on the card, at most 256 bytes.
    pub name: String,
    /// The contact's number (international form); the card is made from
    /// the name and the number. Give this or `vcard`.
    pub phone: Option<String>,
    /// A whole vCard (`BEGIN:VCARD` … `END:VCARD`, at most 64 KiB), sent as given.
    pub vcard: Option<String>,
}

/// The location at `latitude`, `longitude` (degrees), with an optional name
/// and address (trimmed, empty as absent, bounded).
pub fn location(
    latitude: f64,
    longitude: f64,
    name: Option<String>,
    address: Option<String>,
) -> Result<OutgoingLocation, Unsendable> {
    if !(latitude.is_finite() && (-90.0..=90.0).contains(&latitude)) {
        return Err(Unsendable::Location(
            "latitude is a number of degrees from -90 to 90".to_owned(),
        ));
    }
    if !(longitude.is_finite() && (-180.0..=180.0).contains(&longitude)) {
        return Err(Unsendable::Location(
            "longitude is a number of degrees from -180 to 180".to_owned(),
        ));
    }
    Ok(OutgoingLocation {
        latitude,
        longitude,
        name: place_text("name", name)?,
        address: place_text("address", address)?,
    })
}

fn place_text(field: &str, text: Option<String>) -> Result<Option<String>, Unsendable> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.len() > MAX_PLACE_TEXT_BYTES {
        return Err(Unsendable::Location(format!(
            "the {field} holds at most {MAX_PLACE_TEXT_BYTES} bytes"
        )));
    }
    Ok(Some(text))
}

/// The cards of one contact message: 1 to [`MAX_CARDS`], each checked.
pub fn cards(requests: Vec<CardRequest>) -> Result<Vec<ContactCard>, Unsendable> {
    if requests.is_empty() || requests.len() > MAX_CARDS {
        return Err(Unsendable::Contact(format!("send 1 to {MAX_CARDS} cards")));
    }
    requests.into_iter().map(card).collect()
}

/// One card: its name on one line, and either a phone number (the vCard is
/// written for it) or a well-formed vCard.
pub fn card(request: CardRequest) -> Result<ContactCard, Unsendable> {
    let name = request.name.trim();
    if name.is_empty() || name.len() > MAX_CONTACT_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(Unsendable::Contact(format!(
            "a card's name is 1 to {MAX_CONTACT_NAME_BYTES} bytes of text on one line"
        )));
    }
    let vcard = match (request.vcard, request.phone) {
        (Some(vcard), None) if vcard::is_well_formed(&vcard) => vcard,
        (Some(_), None) => {
            return Err(Unsendable::Contact(format!(
                "a vcard runs from BEGIN:VCARD to END:VCARD, at most {} bytes",
                vcard::MAX_VCARD_BYTES
            )));
        }
        (None, Some(number)) => vcard::for_phone(name, &normalize_phone(&number)?),
        _ => return Err(Unsendable::Contact("a card has either a phone or a vcard".to_owned())),
    };
    Ok(ContactCard {
        display_name: name.to_owned(),
        vcard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone_card(name: &str, phone: &str) -> CardRequest {
        CardRequest {
            name: name.to_owned(),
            phone: Some(phone.to_owned()),
            vcard: None,
        }
    }

    #[test]
    fn places_out_of_range_or_too_long_are_refused() {
        assert!(
            location(-6.2, 106.8, Some("  Monas ".into()), Some(" ".into()))
                .is_ok_and(|l| { l.name.as_deref() == Some("Monas") && l.address.is_none() })
        );
        assert!(matches!(location(90.5, 0.0, None, None), Err(Unsendable::Location(_))));
        assert!(matches!(
            location(0.0, f64::NAN, None, None),
            Err(Unsendable::Location(_))
        ));
        let long = "x".repeat(MAX_PLACE_TEXT_BYTES + 1);
        assert!(matches!(
            location(0.0, 0.0, Some(long), None),
            Err(Unsendable::Location(_))
        ));
    }

    #[test]
    fn cards_need_a_name_and_one_of_phone_or_vcard() {
        let made = cards(vec![phone_card("Ani", "+62 812-0000-2222")]).unwrap();
        assert!(made[0].vcard.contains("waid=6281200002222"), "{}", made[0].vcard);
        assert!(matches!(cards(Vec::new()), Err(Unsendable::Contact(_))));
        assert!(matches!(
            cards(vec![phone_card("Ani", "1"); MAX_CARDS + 1]),
            Err(Unsendable::Contact(_))
        ));
        assert!(matches!(
            card(phone_card(" ", "6281200002222")),
            Err(Unsendable::Contact(_))
        ));
        assert!(matches!(
            card(phone_card("Ani", "not a number")),
            Err(Unsendable::Phone(_))
        ));
        let both = CardRequest {
            vcard: Some("BEGIN:VCARD\nEND:VCARD".into()),
            ..phone_card("Ani", "6281200002222")
        };
        assert!(matches!(card(both), Err(Unsendable::Contact(_))));
    }
}
