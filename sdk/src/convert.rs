//! Conversions between the WIT event types and the canonical model of `wasap-events`.
//!
//! A plugin works with [`wasap_events::Event`] (and can render the `sudevwa` and `gowa`
//! formats from it), while only the generated types cross the component boundary. The
//! conversions are written once, in `wasap_events::wit_conversions!`, for the SDK and the
//! host alike.

use crate::bindings::wasap::plugin::types as w;

wasap_events::wit_conversions!();
