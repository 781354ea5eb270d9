//! Conversions between the canonical model and the types that WIT bindings
//! generate from `wit/types.wit`, written once for both sides of the
//! component boundary: the host's wasmtime bindings and the SDK's wit-bindgen
//! bindings generate types of the same names and shapes, so one macro body
//! serves both.
//!
//! Use it in a module where `w` names the generated `types` interface:
//! ```ignore
//! mod convert {
//!     use crate::bindings::wasap::plugin::types as w;
//!     wasap_events::wit_conversions!();
//! }
//! ```
//! The WIT types mirror the model field for field, so both directions are
//! total and lossless, and a field or variant added on one side only is a
//! compile error.
//!
//! A released version's types (`wit/0.1.0`, `wit/0.2.0`) lack the event kinds
//! added after it: `wit_conversions!(before_0_3)` writes `TryFrom` on the way
//! down for them, failing with [`KindNotInVersion`]. A kind added to the model
//! goes into the current version's arms (the `()` rule) and its record
//! conversions after `__wit_conversions_shared!()` there. The instance status
//! `banned` (0.3.0) reaches those versions as `disconnected`, the status they
//! have that says the same.

/// Both `From` impls between every model type and its generated twin in `w`
/// (or, for a version before 0.3.0, `TryFrom` on the way down).
#[macro_export]
macro_rules! wit_conversions {
    // The current version (`wit/`): every kind, both ways, total.
    () => {
        impl From<$crate::Event> for w::Event {
            fn from(event: $crate::Event) -> Self {
                w::Event {
                    id: event.id,
                    instance_id: event.instance_id,
                    at_us: event.at_us,
                    kind: event.kind.into(),
                }
            }
        }

        impl From<$crate::EventKind> for w::EventKind {
            fn from(kind: $crate::EventKind) -> Self {
                $crate::__wit_kind_to_wit!(kind;
                    // The kinds added in wasap:plugin@0.3.0, which older versions lack.
                    $crate::EventKind::GroupUpdate(update) => w::EventKind::GroupUpdate(update.into()),
                    $crate::EventKind::ChatState(change) => w::EventKind::ChatState(change.into()),
                    $crate::EventKind::PollVote(vote) => w::EventKind::PollVote(vote.into()),
                    $crate::EventKind::CallOffer(call) => w::EventKind::CallOffer(call.into()),
                    $crate::EventKind::CallMissed(call) => w::EventKind::CallMissed(call.into()),
                    $crate::EventKind::CallEnded(call) => w::EventKind::CallEnded(call.into()),
                    $crate::EventKind::Offline { status, offline_secs, reason } => {
                        w::EventKind::InstanceOffline(w::OfflineAlert { status: status.into(), offline_secs, reason })
                    }
                    $crate::EventKind::QueueJob(job) => w::EventKind::QueueJob(job.into()),
                )
            }
        }

        impl From<w::EventKind> for $crate::EventKind {
            fn from(kind: w::EventKind) -> Self {
                $crate::__wit_kind_from_wit!(kind;
                    // The kinds added in wasap:plugin@0.3.0, which older versions lack.
                    w::EventKind::GroupUpdate(update) => $crate::EventKind::GroupUpdate(update.into()),
                    w::EventKind::ChatState(change) => $crate::EventKind::ChatState(change.into()),
                    w::EventKind::PollVote(vote) => $crate::EventKind::PollVote(vote.into()),
                    w::EventKind::CallOffer(call) => $crate::EventKind::CallOffer(call.into()),
                    w::EventKind::CallMissed(call) => $crate::EventKind::CallMissed(call.into()),
                    w::EventKind::CallEnded(call) => $crate::EventKind::CallEnded(call.into()),
                    w::EventKind::InstanceOffline(alert) => $crate::EventKind::Offline {
                        status: alert.status.into(),
                        offline_secs: alert.offline_secs,
                        reason: alert.reason,
                    },
                    w::EventKind::QueueJob(job) => $crate::EventKind::QueueJob(job.into()),
                )
            }
        }

        $crate::__wit_conversions_shared!();

        // 0.3.0 added both names of an account (LID and phone number) to the envelopes.
        $crate::__wit_envelopes!(
            { sender_lid, sender_phone, chat_lid, chat_phone } absent {},
            { sender_lid, sender_phone } absent {},
            lists { participants } absent {}
        );
        $crate::__wit_record_pair!($crate::ParticipantIds, w::ParticipantIds, { jid, lid, phone });

        $crate::__wit_enum_pair!(
            $crate::InstanceStatus,
            w::InstanceStatus,
            [QrRequired, Pairing, Connecting, Online, Disconnected, Banned, LoggedOut]
        );

        // The records of the kinds added in 0.3.0.
        $crate::__wit_enum_pair!(
            $crate::GroupUpdateKind,
            w::GroupUpdateKind,
            [Subject, Description, Announce, Locked, Approval, Photo, InviteLink]
        );
        $crate::__wit_record_pair!($crate::GroupUpdate, w::GroupUpdate,
            { group, text, enabled, author, timestamp } into { change });
        $crate::__wit_enum_pair!($crate::ChatState, w::ChatState, [Typing, Recording, Paused]);

        $crate::__wit_record_pair!($crate::ChatStateChange, w::ChatStateChange,
            { chat, sender, sender_lid, sender_phone, is_group, timestamp } into { state });
        $crate::__wit_record_pair!($crate::PollVote, w::PollVote,
            { id, poll_id, chat, voter, voter_lid, voter_phone, push_name, is_group, timestamp, selected }
            lists { totals });
        $crate::__wit_record_pair!($crate::PollTotal, w::PollTotal, { option, votes });
        $crate::__wit_record_pair!($crate::Call, w::Call,
            { id, from, from_lid, from_phone, group, is_video, is_group, timestamp, reason, auto_rejected });
        $crate::__wit_enum_pair!(
            $crate::JobStatus,
            w::JobStatus,
            [Queued, Sending, Sent, Delivered, Read, Failed, Cancelled]
        );
        $crate::__wit_record_pair!($crate::QueueJob, w::QueueJob,
            { job_id, kind, batch_id, message_id, failure, to } into { status });
    };
    // A version released before 0.3.0 (`wit/0.1.0`, `wit/0.2.0`): an event of a kind
    // added since has no twin there, so the way down is `TryFrom`, and the host does
    // not hand such an event to a plugin built against it.
    (before_0_3) => {
        impl TryFrom<$crate::Event> for w::Event {
            type Error = $crate::KindNotInVersion;

            fn try_from(event: $crate::Event) -> Result<Self, Self::Error> {
                Ok(w::Event {
                    id: event.id,
                    instance_id: event.instance_id,
                    at_us: event.at_us,
                    kind: event.kind.try_into()?,
                })
            }
        }

        impl TryFrom<$crate::EventKind> for w::EventKind {
            type Error = $crate::KindNotInVersion;

            // Unreachable only while no kind has been added since.
            #[allow(unreachable_patterns)]
            fn try_from(kind: $crate::EventKind) -> Result<Self, Self::Error> {
                Ok($crate::__wit_kind_to_wit!(kind;
                    newer => return Err($crate::KindNotInVersion(newer.name())),
                ))
            }
        }

        impl From<w::EventKind> for $crate::EventKind {
            fn from(kind: w::EventKind) -> Self {
                $crate::__wit_kind_from_wit!(kind;)
            }
        }

        $crate::__wit_conversions_shared!();

        // These versions name each account once: a plugin's replacement event comes
        // back without the other name.
        $crate::__wit_envelopes!(
            {} absent { sender_lid, sender_phone, chat_lid, chat_phone },
            {} absent { sender_lid, sender_phone },
            lists {} absent { participants }
        );

        impl From<$crate::InstanceStatus> for w::InstanceStatus {
            fn from(status: $crate::InstanceStatus) -> Self {
                match status {
                    $crate::InstanceStatus::QrRequired => w::InstanceStatus::QrRequired,
                    $crate::InstanceStatus::Pairing => w::InstanceStatus::Pairing,
                    $crate::InstanceStatus::Connecting => w::InstanceStatus::Connecting,
                    $crate::InstanceStatus::Online => w::InstanceStatus::Online,
                    $crate::InstanceStatus::Disconnected => w::InstanceStatus::Disconnected,
                    // Added in 0.3.0: the status these versions have that says the same
                    // (linked, not connected, reconnecting by itself).
                    $crate::InstanceStatus::Banned => w::InstanceStatus::Disconnected,
                    $crate::InstanceStatus::LoggedOut => w::InstanceStatus::LoggedOut,
                }
            }
        }

        impl From<w::InstanceStatus> for $crate::InstanceStatus {
            fn from(status: w::InstanceStatus) -> Self {
                match status {
                    w::InstanceStatus::QrRequired => $crate::InstanceStatus::QrRequired,
                    w::InstanceStatus::Pairing => $crate::InstanceStatus::Pairing,
                    w::InstanceStatus::Connecting => $crate::InstanceStatus::Connecting,
                    w::InstanceStatus::Online => $crate::InstanceStatus::Online,
                    w::InstanceStatus::Disconnected => $crate::InstanceStatus::Disconnected,
                    w::InstanceStatus::LoggedOut => $crate::InstanceStatus::LoggedOut,
                }
            }
        }
    };
}

/// An event whose kind a WIT version does not have (it was added in a later one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindNotInVersion(pub &'static str);

impl std::fmt::Display for KindNotInVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the event kind `{}` is not in this version of wasap:plugin", self.0)
    }
}

impl std::error::Error for KindNotInVersion {}

/// The match from a model kind to its WIT twin, with the arms every version has and
/// `$extra` after them.
#[doc(hidden)]
#[macro_export]
macro_rules! __wit_kind_to_wit {
    ($kind:ident; $($extra:tt)*) => {
        match $kind {
                    $crate::EventKind::Qr { qr, expires_at_ms } => w::EventKind::Qr(w::QrCode { qr, expires_at_ms }),
                    $crate::EventKind::StatusChanged { status, previous } => {
                        w::EventKind::InstanceStatus(w::StatusChange {
                            status: status.into(),
                            previous: previous.into(),
                        })
                    }
                    $crate::EventKind::Paired {
                        jid,
                        phone_number,
                        push_name,
                    } => w::EventKind::InstancePaired(w::Paired {
                        jid,
                        phone_number,
                        push_name,
                    }),
                    $crate::EventKind::LoggedOut { reason } => w::EventKind::InstanceLoggedOut(w::LoggedOut { reason }),
                    $crate::EventKind::Message(message) => w::EventKind::Message(message.into()),
                    $crate::EventKind::MessageUndecryptable(message) => w::EventKind::MessageUndecryptable(message.into()),
                    $crate::EventKind::Receipt(receipt) => w::EventKind::Receipt(receipt.into()),
                    $crate::EventKind::GroupParticipants(change) => w::EventKind::GroupParticipants(change.into()),
                    $crate::EventKind::PluginError { plugin, error } => {
                        w::EventKind::PluginError(w::PluginError { plugin, error })
                    }
                    $crate::EventKind::System { message } => w::EventKind::System(w::SystemNotice { message }),
            $($extra)*
        }
    };
}

/// The match from a WIT kind to its model twin, with the arms every version has and
/// `$extra` after them.
#[doc(hidden)]
#[macro_export]
macro_rules! __wit_kind_from_wit {
    ($kind:ident; $($extra:tt)*) => {
        match $kind {
                    w::EventKind::Qr(w::QrCode { qr, expires_at_ms }) => $crate::EventKind::Qr { qr, expires_at_ms },
                    w::EventKind::InstanceStatus(change) => $crate::EventKind::StatusChanged {
                        status: change.status.into(),
                        previous: change.previous.into(),
                    },
                    w::EventKind::InstancePaired(paired) => $crate::EventKind::Paired {
                        jid: paired.jid,
                        phone_number: paired.phone_number,
                        push_name: paired.push_name,
                    },
                    w::EventKind::InstanceLoggedOut(w::LoggedOut { reason }) => $crate::EventKind::LoggedOut { reason },
                    w::EventKind::Message(message) => $crate::EventKind::Message(message.into()),
                    w::EventKind::MessageUndecryptable(message) => $crate::EventKind::MessageUndecryptable(message.into()),
                    w::EventKind::Receipt(receipt) => $crate::EventKind::Receipt(receipt.into()),
                    w::EventKind::GroupParticipants(change) => $crate::EventKind::GroupParticipants(change.into()),
                    w::EventKind::PluginError(w::PluginError { plugin, error }) => {
                        $crate::EventKind::PluginError { plugin, error }
                    }
                    w::EventKind::System(w::SystemNotice { message }) => $crate::EventKind::System { message },
            $($extra)*
        }
    };
}

/// What every version shares below the event's kind: the event's way up, the
/// messages, their content and media, and the fieldless enums.
#[doc(hidden)]
#[macro_export]
macro_rules! __wit_conversions_shared {
    () => {
        impl From<w::Event> for $crate::Event {
            fn from(event: w::Event) -> Self {
                $crate::Event {
                    id: event.id,
                    instance_id: event.instance_id,
                    at_us: event.at_us,
                    kind: event.kind.into(),
                }
            }
        }

        $crate::__wit_enum_pair!($crate::ReceiptType, w::ReceiptType, [Delivered, Read, Played]);
        $crate::__wit_enum_pair!(
            $crate::GroupAction,
            w::GroupAction,
            [Join, Leave, Promote, Demote]
        );

        // The records every version has; the fields a version added to them are
        // listed in that version's rule (`__wit_envelopes!`).
        $crate::__wit_record_pair!($crate::Quoted, w::Quoted, { id, text });
        $crate::__wit_record_pair!($crate::Ephemeral, w::Ephemeral, { expiration, setting_timestamp }
            options { disappearing_mode });
        $crate::__wit_record_pair!($crate::DisappearingMode, w::DisappearingMode,
            { initiator, trigger, initiated_by_me });

        impl From<$crate::Content> for w::Content {
            fn from(content: $crate::Content) -> Self {
                match content {
                    $crate::Content::Text { text } => w::Content::Text(text),
                    $crate::Content::Image(media) => w::Content::Image(media.into()),
                    $crate::Content::Video(media) => w::Content::Video(media.into()),
                    $crate::Content::Audio(media) => w::Content::Audio(media.into()),
                    $crate::Content::Document(media) => w::Content::Document(media.into()),
                    $crate::Content::Sticker(media) => w::Content::Sticker(media.into()),
                    $crate::Content::Contact { display_name, vcard } => {
                        w::Content::Contact(w::ContactCard { display_name, vcard })
                    }
                    $crate::Content::Location {
                        latitude,
                        longitude,
                        name,
                        address,
                        thumbnail_base64,
                    } => w::Content::Location(w::Location {
                        latitude,
                        longitude,
                        name,
                        address,
                        thumbnail_base64,
                    }),
                    $crate::Content::Reaction { emoji, target_id } => {
                        w::Content::Reaction(w::Reaction { emoji, target_id })
                    }
                    $crate::Content::Revoked {
                        target_id,
                        target_chat,
                        target_from_me,
                    } => w::Content::Revoked(w::Revoked {
                        target_id,
                        target_chat,
                        target_from_me,
                    }),
                    $crate::Content::Edited { target_id, text } => w::Content::Edited(w::Edited { target_id, text }),
                    $crate::Content::DeletedForMe {
                        target_id,
                        target_from_me,
                    } => w::Content::DeletedForMe(w::DeletedForMe {
                        target_id,
                        target_from_me,
                    }),
                }
            }
        }

        impl From<w::Content> for $crate::Content {
            fn from(content: w::Content) -> Self {
                match content {
                    w::Content::Text(text) => $crate::Content::Text { text },
                    w::Content::Image(media) => $crate::Content::Image(media.into()),
                    w::Content::Video(media) => $crate::Content::Video(media.into()),
                    w::Content::Audio(media) => $crate::Content::Audio(media.into()),
                    w::Content::Document(media) => $crate::Content::Document(media.into()),
                    w::Content::Sticker(media) => $crate::Content::Sticker(media.into()),
                    w::Content::Contact(card) => $crate::Content::Contact {
                        display_name: card.display_name,
                        vcard: card.vcard,
                    },
                    w::Content::Location(location) => $crate::Content::Location {
                        latitude: location.latitude,
                        longitude: location.longitude,
                        name: location.name,
                        address: location.address,
                        thumbnail_base64: location.thumbnail_base64,
                    },
                    w::Content::Reaction(w::Reaction { emoji, target_id }) => {
                        $crate::Content::Reaction { emoji, target_id }
                    }
                    w::Content::Revoked(revoked) => $crate::Content::Revoked {
                        target_id: revoked.target_id,
                        target_chat: revoked.target_chat,
                        target_from_me: revoked.target_from_me,
                    },
                    w::Content::Edited(w::Edited { target_id, text }) => $crate::Content::Edited { target_id, text },
                    w::Content::DeletedForMe(deleted) => $crate::Content::DeletedForMe {
                        target_id: deleted.target_id,
                        target_from_me: deleted.target_from_me,
                    },
                }
            }
        }

        impl From<$crate::Media> for w::Media {
            fn from(media: $crate::Media) -> Self {
                w::Media {
                    mime_type: media.mime_type,
                    caption: media.caption,
                    file_name: media.file_name,
                    media_path: media.media_path,
                    size: media.size,
                    sha256_hex: media.sha256_hex,
                    download_error: media.download_error,
                }
            }
        }

        impl From<w::Media> for $crate::Media {
            fn from(media: w::Media) -> Self {
                $crate::Media {
                    mime_type: media.mime_type,
                    caption: media.caption,
                    file_name: media.file_name,
                    media_path: media.media_path,
                    size: media.size,
                    sha256_hex: media.sha256_hex,
                    download_error: media.download_error,
                }
            }
        }
    };
}

/// The envelope records (message, undecryptable message, receipt, group change) of one
/// version: the fields every version has, plus those the version has (listed first) or
/// lacks (`absent`: dropped on the way down, empty on the way up), per record.
#[doc(hidden)]
#[macro_export]
macro_rules! __wit_envelopes {
    ({ $($message:ident),* } absent { $($message_absent:ident),* },
     { $($receipt:ident),* } absent { $($receipt_absent:ident),* },
     lists { $($group:ident),* } absent { $($group_absent:ident),* }) => {
        $crate::__wit_record_pair!($crate::Message, w::Message,
            { id, chat, sender, push_name, from_me, is_group, timestamp, forwarded, view_once $(, $message)* }
            into { content } lists {} options { quoted, ephemeral } absent { $($message_absent),* });
        $crate::__wit_record_pair!($crate::Undecryptable, w::Undecryptable,
            { id, chat, sender, push_name, from_me, is_group, timestamp, reason $(, $message)* }
            into {} lists {} options {} absent { $($message_absent),* });
        $crate::__wit_record_pair!($crate::Receipt, w::Receipt,
            { chat, sender, ids, timestamp $(, $receipt)* }
            into { receipt_type } lists {} options {} absent { $($receipt_absent),* });
        $crate::__wit_record_pair!($crate::GroupParticipants, w::GroupParticipants,
            { group, jids, timestamp }
            into { action } lists { $($group),* } options {} absent { $($group_absent),* });
    };
}

/// Writes both `From` impls of a pair of records with the same fields: those moved as
/// they are, those converted (`into`), lists whose items are converted (`lists`),
/// options whose value is converted (`options`), and model fields the WIT record lacks
/// (`absent`: dropped on the way down, their default on the way up). A field missing on
/// one side and not listed as absent is a compile error.
#[doc(hidden)]
#[macro_export]
macro_rules! __wit_record_pair {
    ($model:ty, $wit:ty, { $($field:ident),* $(,)? }
        $(into { $($converted:ident),* $(,)? })? $(lists { $($list:ident),* $(,)? })?
        $(options { $($option:ident),* $(,)? })? $(absent { $($absent:ident),* $(,)? })?) => {
        $crate::__wit_record_pair!(@one $model => $wit, [$($field),*], [$($($converted),*)?], [$($($list),*)?],
            [$($($option),*)?], []);
        $crate::__wit_record_pair!(@one $wit => $model, [$($field),*], [$($($converted),*)?], [$($($list),*)?],
            [$($($option),*)?], [$($($absent),*)?]);
    };
    (@one $from:ty => $to:ty, [$($field:ident),*], [$($converted:ident),*], [$($list:ident),*],
        [$($option:ident),*], [$($absent:ident),*]) => {
        impl From<$from> for $to {
            fn from(value: $from) -> Self {
                Self {
                    $($field: value.$field,)*
                    $($converted: value.$converted.into(),)*
                    $($list: value.$list.into_iter().map(Into::into).collect(),)*
                    $($option: value.$option.map(Into::into),)*
                    $($absent: Default::default(),)*
                }
            }
        }
    };
}

/// Writes both `From` impls of a pair of fieldless enums whose variants match one to one,
/// so a variant added on one side and not the other is a compile error, not a silent gap.
#[doc(hidden)]
#[macro_export]
macro_rules! __wit_enum_pair {
    ($model:ty, $wit:ty, [$($variant:ident),* $(,)?]) => {
        impl From<$model> for $wit {
            fn from(value: $model) -> Self {
                match value {
                    $(<$model>::$variant => <$wit>::$variant,)*
                }
            }
        }
        impl From<$wit> for $model {
            fn from(value: $wit) -> Self {
                match value {
                    $(<$wit>::$variant => <$model>::$variant,)*
                }
            }
        }
    };
}
