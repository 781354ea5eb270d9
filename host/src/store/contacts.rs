//! The contacts each instance knows (`contacts`): learnt from the senders of
//! its inbound messages and from WhatsApp's contact sync, listed in pages by
//! JID. At most [`MAX_CONTACTS`] per instance: past it, new contacts are not
//! kept (known ones still change). Deleted with their instance.

use super::{Store, StoreError, on_pool};

/// Contacts one instance keeps, at most.
pub const MAX_CONTACTS: i64 = 100_000;

/// What was learnt of one contact: `None` fields change nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearntContact {
    /// The JID without device.
    pub jid: String,
    pub phone: Option<String>,
    pub lid: Option<String>,
    pub push_name: Option<String>,
    /// The address-book name, from contact sync.
    pub name: Option<String>,
}

/// A contact as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContact {
    pub jid: String,
    pub phone: Option<String>,
    pub lid: Option<String>,
    pub push_name: Option<String>,
    pub name: Option<String>,
    /// Unix seconds.
    pub first_seen: i64,
    pub last_seen: i64,
}

type Row = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

fn contact(row: Row) -> StoredContact {
    let (jid, phone, lid, push_name, name, first_seen, last_seen) = row;
    StoredContact {
        jid,
        phone,
        lid,
        push_name,
        name,
        first_seen,
        last_seen,
    }
}

impl Store {
    /// Records what was learnt of `contacts` at `now` (unix seconds): known
    /// ones are updated, new ones added while the instance keeps fewer than
    /// [`MAX_CONTACTS`]. Nothing is kept for an instance that is gone.
    pub async fn learn_contacts(
        &self,
        instance_id: &str,
        contacts: &[LearntContact],
        now: i64,
    ) -> Result<(), StoreError> {
        self.learn(instance_id, contacts, now, true).await
    }

    /// Records what the account's address book (contact sync) says of
    /// `contacts` at `now`, as [`learn_contacts`](Self::learn_contacts) does,
    /// except that a known contact's `last_seen` stays: the instance did not
    /// hear from it. A new one is seen first and last `now`.
    pub async fn learn_address_book(
        &self,
        instance_id: &str,
        contacts: &[LearntContact],
        now: i64,
    ) -> Result<(), StoreError> {
        self.learn(instance_id, contacts, now, false).await
    }

    /// Both of the above; `heard`: the contact was heard from `now`.
    async fn learn(
        &self,
        instance_id: &str,
        contacts: &[LearntContact],
        now: i64,
        heard: bool,
    ) -> Result<(), StoreError> {
        for c in contacts {
            let updated = on_pool!(self.pool(), |p| sqlx::query(
                "UPDATE contacts SET phone = COALESCE($3, phone), lid = COALESCE($4, lid), \
                 push_name = COALESCE($5, push_name), name = COALESCE($6, name), \
                 last_seen = CASE WHEN $8 THEN $7 ELSE last_seen END \
                 WHERE instance_id = $1 AND jid = $2"
            )
            .bind(instance_id)
            .bind(&c.jid)
            .bind(&c.phone)
            .bind(&c.lid)
            .bind(&c.push_name)
            .bind(&c.name)
            .bind(now)
            .bind(heard)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
            if updated > 0 {
                continue;
            }
            on_pool!(self.pool(), |p| sqlx::query(
                "INSERT INTO contacts (instance_id, jid, phone, lid, push_name, name, first_seen, last_seen) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $7 \
                 WHERE EXISTS (SELECT 1 FROM instances WHERE id = $1) \
                 AND (SELECT COUNT(*) FROM contacts WHERE instance_id = $1) < $8 \
                 ON CONFLICT (instance_id, jid) DO NOTHING"
            )
            .bind(instance_id)
            .bind(&c.jid)
            .bind(&c.phone)
            .bind(&c.lid)
            .bind(&c.push_name)
            .bind(&c.name)
            .bind(now)
            .bind(MAX_CONTACTS)
            .execute(p)
            .await
            .map(drop))?;
        }
        Ok(())
    }

    /// Up to `limit` of the instance's contacts whose JID sorts after
    /// `after` (all when `None`), by JID.
    pub async fn contacts_page(
        &self,
        instance_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredContact>, StoreError> {
        let rows: Vec<Row> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT jid, phone, lid, push_name, name, first_seen, last_seen FROM contacts \
             WHERE instance_id = $1 AND jid > $2 ORDER BY jid LIMIT $3"
        )
        .bind(instance_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(contact).collect())
    }

    /// How many contacts the instance keeps.
    pub async fn contacts_count(&self, instance_id: &str) -> Result<i64, StoreError> {
        let (count,): (i64,) = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT COUNT(*) FROM contacts WHERE instance_id = $1"
        )
        .bind(instance_id)
        .fetch_one(p)
        .await)?;
        Ok(count)
    }
}
