//! Calls: whatsapp-rust's `Event::IncomingCall` offers and `Event::MissedCall`s as
//! [`Call`]s. What stops a ringing call (a `<terminate>`, or another device answering) names
//! only the call id, so the engine finishes those from the offer it kept ([`stopped`]).
//!
//! Without whatsapp-rust's `voip` feature (which wasap leaves off: it pulls a media stack
//! a bot does not use) the client surfaces every `<call>` action as an `IncomingCall`; its
//! `<terminate>` reason says how the call stopped, the way WhatsApp Web reads it.

use whatsapp_rust::Jid;
use whatsapp_rust::types::call::{CallAction, IncomingCall, MissedCall};

use super::super::{Call, EventKind};

/// A call offer (one-to-one, or a group call's `offer_notice`); `None` for any other call
/// action and for an offer replayed from the offline queue (whatsapp-rust reports that as
/// a `MissedCall`).
pub fn call_offer(call: &IncomingCall) -> Option<Call> {
    if call.offline {
        return None;
    }
    let (creator, caller_pn, is_video, group) = match &call.action {
        CallAction::Offer {
            call_creator,
            caller_pn,
            is_video,
            group_jid,
            ..
        } => (call_creator, caller_pn.as_ref(), *is_video, group_jid.as_ref()),
        CallAction::OfferNotice {
            call_creator, is_video, ..
        } => (call_creator, None, *is_video, None),
        _ => return None,
    };
    let is_group = group.is_some() || matches!(&call.action, CallAction::OfferNotice { is_group: true, .. });
    let mut offer = caller(creator, caller_pn.or_else(|| call.from.is_pn().then_some(&call.from)));
    offer.id = call.action.call_id().to_owned();
    offer.group = group.map(|g| g.to_non_ad().to_string());
    offer.is_video = is_video;
    offer.is_group = is_group;
    offer.timestamp = call.timestamp.timestamp();
    Some(offer)
}

/// The id of the call a `<terminate>` ends, and WhatsApp's reason for it.
pub fn terminated(call: &IncomingCall) -> Option<(&str, Option<&str>)> {
    match &call.action {
        CallAction::Terminate { call_id, reason, .. } => Some((call_id, reason.as_deref())),
        _ => None,
    }
}

/// A call that rang while the instance was offline (whatsapp-rust does not let it ring).
pub fn missed_offline(missed: &MissedCall) -> EventKind {
    let mut call = caller(&missed.from, None);
    call.id = missed.call_id.clone();
    call.timestamp = missed.timestamp.timestamp();
    call.reason = Some("offline".to_owned());
    EventKind::CallMissed(call)
}

/// `offer`, stopped at `timestamp` for WhatsApp's `reason`: missed when it rang out or the
/// caller gave up (no reason, `timeout`, `group_call_ended`), else ended.
pub fn stopped(offer: Call, reason: Option<&str>, timestamp: i64) -> EventKind {
    let (missed, reason) = match reason {
        None => (true, "hung_up"),
        Some("timeout") => (true, "timeout"),
        Some("group_call_ended") => (true, "hung_up"),
        Some(other) => (false, other),
    };
    let call = Call {
        reason: Some(reason.to_owned()),
        timestamp,
        auto_rejected: false,
        ..offer
    };
    if missed {
        EventKind::CallMissed(call)
    } else {
        EventKind::CallEnded(call)
    }
}

/// A call from `jid` (the caller, by LID or phone number), whose phone-number JID may be
/// known besides; the call's own fields are left to fill.
fn caller(jid: &Jid, phone_jid: Option<&Jid>) -> Call {
    let jid = jid.to_non_ad();
    let phone_jid = phone_jid
        .map(Jid::to_non_ad)
        .or_else(|| jid.is_pn().then(|| jid.clone()));
    let lid = jid.is_lid().then(|| jid.to_string());
    Call {
        id: String::new(),
        from: phone_jid.as_ref().unwrap_or(&jid).to_string(),
        from_lid: lid,
        from_phone: phone_jid.map(|pn| pn.user.to_string()),
        group: None,
        is_video: false,
        is_group: false,
        timestamp: 0,
        reason: None,
        auto_rejected: false,
    }
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::types::call::{CallAction, IncomingCall};

    use super::*;

    fn incoming(from: &str, action: CallAction) -> IncomingCall {
        let at = chrono::DateTime::from_timestamp(1_772_361_000, 0).expect("a time");
        IncomingCall::new_for_test(from.parse().expect("a JID"), "ST1".to_owned(), at, action)
    }

    fn offer(creator: &str, caller_pn: Option<&str>, is_video: bool) -> CallAction {
        CallAction::Offer {
            call_id: "CALL1".to_owned(),
            call_creator: creator.parse().expect("a JID"),
            caller_pn: caller_pn.map(|pn| pn.parse().expect("a JID")),
            caller_country_code: None,
            device_class: None,
            joinable: false,
            is_video,
            audio: Vec::new(),
            group_jid: None,
        }
    }

    #[test]
    fn an_offer_names_the_caller_by_phone_number_and_lid() {
        let call = incoming(
            "251556368777322:3@lid",
            offer("251556368777322:3@lid", Some("6281234567890@s.whatsapp.net"), true),
        );
        let offer = call_offer(&call).expect("an offer");
        assert_eq!(
            offer,
            Call {
                id: "CALL1".to_owned(),
                from: "6281234567890@s.whatsapp.net".to_owned(),
                from_lid: Some("251556368777322@lid".to_owned()),
                from_phone: Some("6281234567890".to_owned()),
                group: None,
                is_video: true,
                is_group: false,
                timestamp: 1_772_361_000,
                reason: None,
                auto_rejected: false,
            }
        );
        // By phone number alone: no LID.
        let call = incoming("6281234567890:2@s.whatsapp.net", offer_pn());
        let offer = call_offer(&call).expect("an offer");
        assert_eq!(
            (offer.from.as_str(), offer.from_lid),
            ("6281234567890@s.whatsapp.net", None)
        );
    }

    fn offer_pn() -> CallAction {
        offer("6281234567890:2@s.whatsapp.net", None, false)
    }

    #[test]
    fn a_terminate_is_missed_or_ended_by_its_reason() {
        let offer = call_offer(&incoming("6281234567890@s.whatsapp.net", offer_pn())).expect("an offer");
        let kind = |reason| stopped(offer.clone(), reason, 1_772_361_030);
        assert!(matches!(kind(None), EventKind::CallMissed(c) if c.reason.as_deref() == Some("hung_up")));
        assert!(matches!(kind(Some("timeout")), EventKind::CallMissed(c) if c.reason.as_deref() == Some("timeout")));
        assert!(matches!(
            kind(Some("accepted_elsewhere")),
            EventKind::CallEnded(c) if c.reason.as_deref() == Some("accepted_elsewhere") && c.timestamp == 1_772_361_030
        ));
        let terminate = CallAction::Terminate {
            call_id: "CALL1".to_owned(),
            call_creator: "6281234567890@s.whatsapp.net".parse().expect("a JID"),
            reason: Some("timeout".to_owned()),
            duration: None,
            audio_duration: None,
        };
        let call = incoming("6281234567890@s.whatsapp.net", terminate);
        assert_eq!(terminated(&call), Some(("CALL1", Some("timeout"))));
        assert_eq!(call_offer(&call), None, "not an offer");
    }
}
