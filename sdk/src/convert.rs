//! Conversions between the WIT event types and the canonical model of `wasap-events`.
//!
//! The WIT types mirror the model field for field, so both directions are total and lossless:
//! a plugin works with [`wasap_events::Event`] (and can render the `sudevwa` and `gowa`
//! formats from it), while only the generated types cross the component boundary. The host
//! has the same pair of conversions on its side of the boundary.

use wasap_events as m;

use crate::bindings::wasap::plugin::types as w;

impl From<m::Event> for w::Event {
    fn from(event: m::Event) -> Self {
        w::Event {
            id: event.id,
            instance_id: event.instance_id,
            at_us: event.at_us,
            kind: event.kind.into(),
        }
    }
}

impl From<w::Event> for m::Event {
    fn from(event: w::Event) -> Self {
        m::Event {
            id: event.id,
            instance_id: event.instance_id,
            at_us: event.at_us,
            kind: event.kind.into(),
        }
    }
}

impl From<m::EventKind> for w::EventKind {
    fn from(kind: m::EventKind) -> Self {
        match kind {
            m::EventKind::Qr { qr, expires_at_ms } => {
                w::EventKind::Qr(w::QrCode { qr, expires_at_ms })
            }
            m::EventKind::StatusChanged { status, previous } => {
                w::EventKind::InstanceStatus(w::StatusChange {
                    status: status.into(),
                    previous: previous.into(),
                })
            }
            m::EventKind::Paired {
                jid,
                phone_number,
                push_name,
            } => w::EventKind::InstancePaired(w::Paired {
                jid,
                phone_number,
                push_name,
            }),
            m::EventKind::LoggedOut { reason } => {
                w::EventKind::InstanceLoggedOut(w::LoggedOut { reason })
            }
            m::EventKind::Message(message) => w::EventKind::Message(message.into()),
            m::EventKind::Receipt(receipt) => w::EventKind::Receipt(w::Receipt {
                chat: receipt.chat,
                sender: receipt.sender,
                ids: receipt.ids,
                receipt_type: receipt.receipt_type.into(),
                timestamp: receipt.timestamp,
            }),
            m::EventKind::GroupParticipants(change) => {
                w::EventKind::GroupParticipants(w::GroupParticipants {
                    group: change.group,
                    action: change.action.into(),
                    jids: change.jids,
                    timestamp: change.timestamp,
                })
            }
            m::EventKind::PluginError { plugin, error } => {
                w::EventKind::PluginError(w::PluginError { plugin, error })
            }
            m::EventKind::System { message } => w::EventKind::System(w::SystemNotice { message }),
        }
    }
}

impl From<w::EventKind> for m::EventKind {
    fn from(kind: w::EventKind) -> Self {
        match kind {
            w::EventKind::Qr(w::QrCode { qr, expires_at_ms }) => {
                m::EventKind::Qr { qr, expires_at_ms }
            }
            w::EventKind::InstanceStatus(change) => m::EventKind::StatusChanged {
                status: change.status.into(),
                previous: change.previous.into(),
            },
            w::EventKind::InstancePaired(paired) => m::EventKind::Paired {
                jid: paired.jid,
                phone_number: paired.phone_number,
                push_name: paired.push_name,
            },
            w::EventKind::InstanceLoggedOut(w::LoggedOut { reason }) => {
                m::EventKind::LoggedOut { reason }
            }
            w::EventKind::Message(message) => m::EventKind::Message(message.into()),
            w::EventKind::Receipt(receipt) => m::EventKind::Receipt(m::Receipt {
                chat: receipt.chat,
                sender: receipt.sender,
                ids: receipt.ids,
                receipt_type: receipt.receipt_type.into(),
                timestamp: receipt.timestamp,
            }),
            w::EventKind::GroupParticipants(change) => {
                m::EventKind::GroupParticipants(m::GroupParticipants {
                    group: change.group,
                    action: change.action.into(),
                    jids: change.jids,
                    timestamp: change.timestamp,
                })
            }
            w::EventKind::PluginError(w::PluginError { plugin, error }) => {
                m::EventKind::PluginError { plugin, error }
            }
            w::EventKind::System(w::SystemNotice { message }) => m::EventKind::System { message },
        }
    }
}

/// Writes both `From` impls of a pair of fieldless enums whose variants match one to one,
/// so a variant added on one side and not the other is a compile error, not a silent gap.
macro_rules! enum_pair {
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

enum_pair!(
    m::InstanceStatus,
    w::InstanceStatus,
    [
        QrRequired,
        Pairing,
        Connecting,
        Online,
        Disconnected,
        LoggedOut
    ]
);
enum_pair!(m::ReceiptType, w::ReceiptType, [Delivered, Read, Played]);
enum_pair!(
    m::GroupAction,
    w::GroupAction,
    [Join, Leave, Promote, Demote]
);

impl From<m::Message> for w::Message {
    fn from(message: m::Message) -> Self {
        w::Message {
            id: message.id,
            chat: message.chat,
            sender: message.sender,
            push_name: message.push_name,
            from_me: message.from_me,
            is_group: message.is_group,
            timestamp: message.timestamp,
            content: message.content.into(),
            quoted: message.quoted.map(|quoted| w::Quoted {
                id: quoted.id,
                text: quoted.text,
            }),
            forwarded: message.forwarded,
            view_once: message.view_once,
            ephemeral: message.ephemeral.map(|ephemeral| w::Ephemeral {
                expiration: ephemeral.expiration,
                setting_timestamp: ephemeral.setting_timestamp,
                disappearing_mode: ephemeral.disappearing_mode.map(|mode| w::DisappearingMode {
                    initiator: mode.initiator,
                    trigger: mode.trigger,
                    initiated_by_me: mode.initiated_by_me,
                }),
            }),
        }
    }
}

impl From<w::Message> for m::Message {
    fn from(message: w::Message) -> Self {
        m::Message {
            id: message.id,
            chat: message.chat,
            sender: message.sender,
            push_name: message.push_name,
            from_me: message.from_me,
            is_group: message.is_group,
            timestamp: message.timestamp,
            content: message.content.into(),
            quoted: message.quoted.map(|quoted| m::Quoted {
                id: quoted.id,
                text: quoted.text,
            }),
            forwarded: message.forwarded,
            view_once: message.view_once,
            ephemeral: message.ephemeral.map(|ephemeral| m::Ephemeral {
                expiration: ephemeral.expiration,
                setting_timestamp: ephemeral.setting_timestamp,
                disappearing_mode: ephemeral.disappearing_mode.map(|mode| m::DisappearingMode {
                    initiator: mode.initiator,
                    trigger: mode.trigger,
                    initiated_by_me: mode.initiated_by_me,
                }),
            }),
        }
    }
}

impl From<m::Content> for w::Content {
    fn from(content: m::Content) -> Self {
        match content {
            m::Content::Text { text } => w::Content::Text(text),
            m::Content::Image(media) => w::Content::Image(media.into()),
            m::Content::Video(media) => w::Content::Video(media.into()),
            m::Content::Audio(media) => w::Content::Audio(media.into()),
            m::Content::Document(media) => w::Content::Document(media.into()),
            m::Content::Sticker(media) => w::Content::Sticker(media.into()),
            m::Content::Contact {
                display_name,
                vcard,
            } => w::Content::Contact(w::ContactCard {
                display_name,
                vcard,
            }),
            m::Content::Location {
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
            m::Content::Reaction { emoji, target_id } => {
                w::Content::Reaction(w::Reaction { emoji, target_id })
            }
            m::Content::Revoked {
                target_id,
                target_chat,
                target_from_me,
            } => w::Content::Revoked(w::Revoked {
                target_id,
                target_chat,
                target_from_me,
            }),
            m::Content::Edited { target_id, text } => {
                w::Content::Edited(w::Edited { target_id, text })
            }
            m::Content::DeletedForMe {
                target_id,
                target_from_me,
            } => w::Content::DeletedForMe(w::DeletedForMe {
                target_id,
                target_from_me,
            }),
        }
    }
}

impl From<w::Content> for m::Content {
    fn from(content: w::Content) -> Self {
        match content {
            w::Content::Text(text) => m::Content::Text { text },
            w::Content::Image(media) => m::Content::Image(media.into()),
            w::Content::Video(media) => m::Content::Video(media.into()),
            w::Content::Audio(media) => m::Content::Audio(media.into()),
            w::Content::Document(media) => m::Content::Document(media.into()),
            w::Content::Sticker(media) => m::Content::Sticker(media.into()),
            w::Content::Contact(card) => m::Content::Contact {
                display_name: card.display_name,
                vcard: card.vcard,
            },
            w::Content::Location(location) => m::Content::Location {
                latitude: location.latitude,
                longitude: location.longitude,
                name: location.name,
                address: location.address,
                thumbnail_base64: location.thumbnail_base64,
            },
            w::Content::Reaction(w::Reaction { emoji, target_id }) => {
                m::Content::Reaction { emoji, target_id }
            }
            w::Content::Revoked(revoked) => m::Content::Revoked {
                target_id: revoked.target_id,
                target_chat: revoked.target_chat,
                target_from_me: revoked.target_from_me,
            },
            w::Content::Edited(w::Edited { target_id, text }) => {
                m::Content::Edited { target_id, text }
            }
            w::Content::DeletedForMe(deleted) => m::Content::DeletedForMe {
                target_id: deleted.target_id,
                target_from_me: deleted.target_from_me,
            },
        }
    }
}

impl From<m::Media> for w::Media {
    fn from(media: m::Media) -> Self {
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

impl From<w::Media> for m::Media {
    fn from(media: w::Media) -> Self {
        m::Media {
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
