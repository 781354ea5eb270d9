//! Errors at the database boundary.

use thiserror::Error;

/// What can go wrong opening or using the database.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("unsupported database URL {0}: use postgres://... or sqlite://...")]
    UnsupportedUrl(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A write for an instance that does not exist (any more): deleted meanwhile.
    #[error("the instance does not exist (any more)")]
    InstanceGone,
    /// A write queued with others (`sent_records.rs`) failed, or its writer stopped.
    #[error("database error in a grouped write: {0}")]
    Grouped(String),
}

impl StoreError {
    /// Wraps a connection error with the (redacted) URL it concerns.
    pub(crate) fn open(url: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |source| StoreError::Open {
            url: super::redact(url),
            source,
        }
    }

    /// A failed write of rows that name an instance: [`StoreError::InstanceGone`]
    /// when the instance was deleted meanwhile (its foreign key refused them),
    /// else the query's error.
    pub(crate) fn of_instance_write(e: sqlx::Error) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation => {
                StoreError::InstanceGone
            }
            _ => StoreError::Query(e),
        }
    }
}
