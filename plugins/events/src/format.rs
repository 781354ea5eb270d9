//! [`Format`]: the payload formats a webhook may be configured with, by the names
//! configurations, the API and the outbox use (`sudevwa`, `gowa`).
//!
//! A plugin's own webhook requests may name any format; only these two have payloads
//! defined here, signatures and subscribers.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Event, gowa, sudevwa};

/// A payload format of this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The `{"event", "timestamp", "data"}` envelope ([`sudevwa`]).
    Sudevwa,
    /// The global webhook payloads ([`gowa`]).
    Gowa,
}

impl Format {
    /// Every format, in the order they are documented.
    pub const ALL: [Format; 2] = [Format::Sudevwa, Format::Gowa];

    /// The format's name, as configurations and the API spell it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Sudevwa => "sudevwa",
            Format::Gowa => "gowa",
        }
    }

    /// The event's payload in this format as the bytes of a request body, if the format
    /// carries the event.
    pub fn to_vec(self, event: &Event) -> Option<Vec<u8>> {
        match self {
            Format::Sudevwa => sudevwa::to_vec(event),
            Format::Gowa => gowa::to_vec(event),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown format {:?}: use sudevwa or gowa", self.0)
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|format| format.name() == name)
            .ok_or_else(|| UnknownFormat(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_print_and_serialize_alike() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), format.name());
            assert_eq!(serde_json::to_value(format).unwrap(), format.name());
            assert_eq!(serde_json::from_value::<Format>(format.name().into()).unwrap(), format);
        }
        assert_eq!(
            "xml".parse::<Format>().unwrap_err().to_string(),
            r#"unknown format "xml": use sudevwa or gowa"#
        );
    }
}
