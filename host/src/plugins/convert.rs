//! Events to and from the host bindings' types, with the one set of
//! conversions `wasap-events` writes for the host and the SDK alike.

use super::bindings::wasap::plugin::types as w;

wasap_events::wit_conversions!();
