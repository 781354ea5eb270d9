//! What an instance's health looks like from outside, beyond its status: a
//! temporary ban WhatsApp put on the account (why, and until when), and the
//! last error that ended or refused its connection. Kept by the supervisor in
//! memory (a restart starts clean: the next connection says again), shown
//! with the instance in the API.

use crate::clock;

/// The longest ban shown as such (ten years): a longer one is shown ending then.
const MAX_BAN_SECS: u64 = 10 * 365 * 24 * 3600;

/// An instance's ban and last connection error, as `GET /api/instances/{id}` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Health {
    /// While the status is `banned`: WhatsApp's reason and when the ban ends.
    pub ban: Option<Ban>,
    /// The last error that ended or refused the connection, if any since the
    /// server started; kept after the instance is back online.
    pub last_error: Option<ConnectionError>,
}

/// A temporary ban on the account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Ban {
    /// WhatsApp's reason, as the engine reports it.
    pub reason: String,
    /// When WhatsApp lets the account connect again (RFC 3339); the instance
    /// reconnects then.
    pub expires_at: String,
}

/// An error that ended or refused the connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ConnectionError {
    pub message: String,
    /// When it happened (RFC 3339).
    pub at: String,
}

impl Health {
    /// Records `message` as the last connection error, now.
    pub(crate) fn failed(&mut self, message: impl Into<String>) {
        self.last_error = Some(ConnectionError {
            message: message.into(),
            at: clock::rfc3339(clock::now_secs()),
        });
    }

    /// Records a ban for `reason` that ends `expires_in` from now, and the
    /// ban as the last connection error.
    pub(crate) fn banned(&mut self, reason: &str, expires_in: std::time::Duration) {
        // Any length WhatsApp may send stays a date that can be written.
        let seconds = expires_in.as_secs().min(MAX_BAN_SECS) as i64;
        let ends = clock::now_secs() + seconds;
        self.ban = Some(Ban {
            reason: reason.to_owned(),
            expires_at: clock::rfc3339(ends),
        });
        self.failed(format!("temporarily banned: {reason}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ban_is_also_the_last_error_and_ends_when_it_says() {
        let mut health = Health::default();
        let before = clock::now_secs();
        health.banned("sent to too many people", std::time::Duration::from_secs(3600));
        let ban = health.ban.clone().expect("a ban");
        assert_eq!(ban.reason, "sent to too many people");
        let ends = chrono::DateTime::parse_from_rfc3339(&ban.expires_at)
            .unwrap()
            .timestamp();
        assert!((before + 3600..=clock::now_secs() + 3600).contains(&ends), "{ends}");
        let error = health.last_error.clone().expect("the last error");
        assert_eq!(error.message, "temporarily banned: sent to too many people");
        // A ban too long to write stays a date in the future, not an overflow.
        health.banned("forever", std::time::Duration::MAX);
        let ends = health.ban.expect("a ban").expires_at;
        assert!(chrono::DateTime::parse_from_rfc3339(&ends).unwrap().timestamp() > clock::now_secs() + 3600);
    }
}
