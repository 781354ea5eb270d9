//! The `plugin_kv` table: the key-value store behind the WIT `kv` interface.
//!
//! Keys are scoped by plugin name, so two plugins never see each other's keys.
//! The store enforces only the per-plugin quotas (a number of keys and a total
//! of value bytes), because those need the database to be exact under
//! concurrent writers; key and value sizes are checked by the caller (the
//! plugin host) against the limits below, before a value ever reaches the
//! database.
//!
//! Keys compare byte by byte on both engines (SQLite's BINARY collation,
//! PostgreSQL's column collation "C" from migration 0002), so listing sorts
//! the same everywhere and prefix matching is a plain range scan of the
//! primary key: no `LIKE`, so `%` and `_` in a prefix are ordinary characters.

use super::{Pool, Store, StoreError, on_pool};
use crate::clock::now_secs;

/// Longest key the host should accept, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value the host should accept, in bytes (1 MiB).
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// Keys a plugin may hold when its manifest does not say otherwise.
pub const DEFAULT_MAX_KEYS: u64 = 10_000;

/// Whether `key` is one the store can hold: non-empty, at most
/// [`MAX_KEY_BYTES`], and without NUL (PostgreSQL text cannot contain it).
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_BYTES && !key.contains('\0')
}

/// What one plugin may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvQuota {
    /// Keys at most.
    pub max_keys: u64,
    /// Bytes of values at most, all keys together.
    pub max_bytes: u64,
}

impl KvQuota {
    /// At most `max_keys` keys, of any total size.
    pub fn keys(max_keys: u64) -> KvQuota {
        KvQuota {
            max_keys,
            max_bytes: u64::MAX,
        }
    }
}

/// The outcome of [`Store::kv_set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvSet {
    /// The value is stored (a new key, or a replaced value).
    Stored,
    /// The key is new and the plugin already holds its maximum of keys, or
    /// the plugin's values would take more than its maximum of bytes.
    QuotaExceeded,
}

/// Inserts or replaces `($1 plugin, $2 key)` with `$3 value` (of `$7` bytes)
/// at `$4 now`, but inserts a new key only while the plugin holds fewer than
/// `$5` keys, and only while the plugin's values, this one in place of the
/// key's old one, take at most `$6` bytes. No row is affected when a quota
/// refuses.
const SET_WITHIN_QUOTA: &str = "INSERT INTO plugin_kv (plugin, key, value, updated_at) \
     SELECT $1, $2, $3, $4 \
     WHERE (EXISTS (SELECT 1 FROM plugin_kv WHERE plugin = $1 AND key = $2) \
        OR (SELECT COUNT(*) FROM plugin_kv WHERE plugin = $1) < $5) \
       AND (SELECT CAST(COALESCE(SUM(length(value)), 0) AS BIGINT) FROM plugin_kv \
            WHERE plugin = $1 AND key <> $2) + $7 <= $6 \
     ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

/// Serialises quota checks of one plugin on PostgreSQL until the transaction
/// ends. The second argument namespaces the lock from other advisory locks.
const LOCK_PLUGIN_POSTGRES: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 7613))";

impl Store {
    /// The value of `key` for `plugin`, if any.
    pub async fn kv_get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT value FROM plugin_kv WHERE plugin = $1 AND key = $2"
        )
        .bind(plugin)
        .bind(key)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(value,)| value))
    }

    /// Stores `value` under `key` for `plugin`, within `quota`: replacing an
    /// existing key is allowed while the values fit `quota.max_bytes`; a new
    /// key is refused once the plugin holds `quota.max_keys`, or when its
    /// value does not fit.
    ///
    /// The count and the insert must not interleave with another writer's, or
    /// two writers at `max_keys - 1` would both insert (the same for bytes). One statement does
    /// both, and each engine makes that statement exclusive per plugin:
    /// - SQLite: a writing statement takes the database's write lock before it
    ///   reads anything, so the count it sees is current until it commits.
    /// - PostgreSQL: under READ COMMITTED each statement reads a snapshot taken
    ///   when it starts, so two concurrent statements could both count
    ///   `max_keys - 1`. A transaction-scoped advisory lock on the plugin name
    ///   orders them: the second statement starts (and takes its snapshot)
    ///   only after the first has committed. Writers of other plugins do not
    ///   wait, unlike with a table lock, and nothing needs retrying, unlike
    ///   with SERIALIZABLE.
    pub async fn kv_set(&self, plugin: &str, key: &str, value: &[u8], quota: KvQuota) -> Result<KvSet, StoreError> {
        let max_keys = i64::try_from(quota.max_keys).unwrap_or(i64::MAX);
        let max_bytes = i64::try_from(quota.max_bytes).unwrap_or(i64::MAX);
        let size = i64::try_from(value.len()).unwrap_or(i64::MAX);
        let now = now_secs();
        let affected = match self.pool() {
            Pool::Sqlite(p) => sqlx::query(SET_WITHIN_QUOTA)
                .bind(plugin)
                .bind(key)
                .bind(value)
                .bind(now)
                .bind(max_keys)
                .bind(max_bytes)
                .bind(size)
                .execute(p)
                .await?
                .rows_affected(),
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query(LOCK_PLUGIN_POSTGRES).bind(plugin).execute(&mut *tx).await?;
                let affected = sqlx::query(SET_WITHIN_QUOTA)
                    .bind(plugin)
                    .bind(key)
                    .bind(value)
                    .bind(now)
                    .bind(max_keys)
                    .bind(max_bytes)
                    .bind(size)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                affected
            }
        };
        Ok(if affected == 0 {
            KvSet::QuotaExceeded
        } else {
            KvSet::Stored
        })
    }

    /// Removes `key` of `plugin`; a missing key is not an error.
    pub async fn kv_delete(&self, plugin: &str, key: &str) -> Result<(), StoreError> {
        on_pool!(self.pool(), |p| sqlx::query(
            "DELETE FROM plugin_kv WHERE plugin = $1 AND key = $2"
        )
        .bind(plugin)
        .bind(key)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The keys of `plugin` that start with `prefix`, in byte order, at most
    /// `limit` of them.
    pub async fn kv_list_keys(&self, plugin: &str, prefix: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        // Every key starting with `prefix` lies in [prefix, successor): a
        // range the primary key's index answers directly.
        let upper = prefix_successor(prefix);
        let rows: Vec<(String,)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT key FROM plugin_kv \
             WHERE plugin = $1 AND key >= $2 AND ($3 IS NULL OR key < $3) \
             ORDER BY key LIMIT $4"
        )
        .bind(plugin)
        .bind(prefix)
        .bind(upper.as_deref())
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(key,)| key).collect())
    }

    /// Removes every key of `plugin` (the plugin was deleted); returns how many.
    pub async fn kv_delete_plugin(&self, plugin: &str) -> Result<u64, StoreError> {
        let deleted = on_pool!(self.pool(), |p| sqlx::query("DELETE FROM plugin_kv WHERE plugin = $1")
            .bind(plugin)
            .execute(p)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(deleted)
    }

    /// How many keys `plugin` holds and the total size of their values, in bytes.
    pub async fn kv_usage(&self, plugin: &str) -> Result<(u64, u64), StoreError> {
        // `length` of a BLOB (SQLite) or a bytea (PostgreSQL) is its size in bytes.
        let (keys, bytes): (i64, i64) = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(length(value)), 0) AS BIGINT) FROM plugin_kv WHERE plugin = $1"
        )
        .bind(plugin)
        .fetch_one(p)
        .await)?;
        Ok((keys.max(0) as u64, bytes.max(0) as u64))
    }
}

/// The smallest string greater than every string that starts with `prefix`,
/// in code-point (= UTF-8 byte) order; `None` when there is none (an empty
/// prefix, or one of only `char::MAX`), i.e. no upper bound.
///
/// The last character that can be incremented is incremented and everything
/// after it dropped: every extension of `prefix` sorts below the result, and
/// nothing that does not start with `prefix` sorts between the two.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = next_char(last) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The next Unicode scalar value after `c`, skipping the surrogate gap.
fn next_char(c: char) -> Option<char> {
    match c {
        '\u{D7FF}' => Some('\u{E000}'),
        char::MAX => None,
        c => char::from_u32(c as u32 + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successors_bound_every_extension() {
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("a"), Some("b".into()));
        assert_eq!(prefix_successor("user:%_"), Some("user:%`".into()));
        assert_eq!(prefix_successor("a\u{D7FF}"), Some("a\u{E000}".into()));
        assert_eq!(prefix_successor("ab\u{10FFFF}"), Some("ac".into()));
        assert_eq!(prefix_successor("\u{10FFFF}\u{10FFFF}"), None);
        // Byte order of the UTF-8 encodings agrees with the char order used.
        for (prefix, extension) in [
            ("a", "a\u{10FFFF}zz"),
            ("é", "é\u{7f}"),
            ("\u{D7FF}", "\u{D7FF}\u{FFFF}"),
        ] {
            let upper = prefix_successor(prefix).unwrap();
            assert!(prefix.as_bytes() <= extension.as_bytes() && extension.as_bytes() < upper.as_bytes());
        }
    }

    #[test]
    fn keys_are_validated_by_size_and_content() {
        assert!(is_valid_key("counter"));
        assert!(is_valid_key(&"k".repeat(MAX_KEY_BYTES)));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key(&"k".repeat(MAX_KEY_BYTES + 1)));
        assert!(!is_valid_key("a\0b"));
    }
}
