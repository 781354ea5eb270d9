//! The driver's side of location and contact-card sends: what a contact got,
//! the same on both engines (the simulated network's record on the sim
//! engine, the decrypted message on the real one).

use serde_json::Value;
use whatsapp_rust::waproto::whatsapp as wa;

use super::Driver;

/// A location or contact message as its recipient got it.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaceOrCards {
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// The cards, each `(display name, vCard)`.
    Contacts(Vec<(String, String)>),
}

impl PlaceOrCards {
    fn of(message: &wa::Message) -> Option<PlaceOrCards> {
        if let Some(place) = message.location_message.as_option() {
            return Some(PlaceOrCards::Location {
                latitude: place.degrees_latitude?,
                longitude: place.degrees_longitude?,
                name: place.name.clone(),
                address: place.address.clone(),
            });
        }
        let card = |c: &wa::message::ContactMessage| {
            (
                c.display_name.clone().unwrap_or_default(),
                c.vcard.clone().unwrap_or_default(),
            )
        };
        if let Some(one) = message.contact_message.as_option() {
            return Some(PlaceOrCards::Contacts(vec![card(one)]));
        }
        let many = message.contacts_array_message.as_option()?;
        Some(PlaceOrCards::Contacts(many.contacts.iter().map(card).collect()))
    }

    fn of_record(record: &Value) -> Option<PlaceOrCards> {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        match record["kind"].as_str()? {
            "location" => {
                let place = &record["location"];
                Some(PlaceOrCards::Location {
                    latitude: place["latitude"].as_f64()?,
                    longitude: place["longitude"].as_f64()?,
                    name: text(&place["name"]),
                    address: text(&place["address"]),
                })
            }
            "contact" => Some(PlaceOrCards::Contacts(
                record["contacts"]
                    .as_array()?
                    .iter()
                    .map(|c| {
                        (
                            text(&c["display_name"]).unwrap_or_default(),
                            text(&c["vcard"]).unwrap_or_default(),
                        )
                    })
                    .collect(),
            )),
            _ => None,
        }
    }
}

impl Driver {
    /// The locations and contact cards contact `to` got from the instance,
    /// in order, once there are at least `min`.
    pub async fn places_and_cards_sent_to(&self, to: &str, min: usize) -> Vec<PlaceOrCards> {
        self.sent_to_as(to, min, PlaceOrCards::of_record, PlaceOrCards::of)
            .await
    }
}
