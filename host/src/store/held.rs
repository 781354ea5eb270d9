//! Connections a busy writer keeps across its writes instead of borrowing
//! one from the pool for each.
//!
//! sqlx tests a pooled connection with a round trip when it lends it (on
//! PostgreSQL) and again when it comes back (on both engines). For a writer
//! whose next write is already waiting, such as an instance's journal writer
//! in a burst, getting the connection took a quarter of each write's time on
//! PostgreSQL, and the acks wait for the journal (BENCHMARKS.md, series G, a
//! ninth time). A held connection skips those round trips.
//!
//! Only a few connections may be held at once (a quarter of the pool), so
//! that writers keeping theirs never starve the rest of the server; a writer
//! that finds none free borrows from the pool per write as before.

use std::sync::Arc;

use sqlx::pool::PoolConnection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Pool, Store, StoreError};

/// A connection taken from the pool and kept by its holder until dropped,
/// with its share of [`Holders`] (none: borrowed for one write only).
pub struct HeldConnection {
    pub(super) connection: Connection,
    _permit: Option<OwnedSemaphorePermit>,
}

/// The held connection of either engine.
pub(super) enum Connection {
    Sqlite(PoolConnection<sqlx::Sqlite>),
    Postgres(PoolConnection<sqlx::Postgres>),
}

/// How many connections may be held at once: one per four of the pool's.
#[derive(Clone, Debug)]
pub(super) struct Holders(Arc<Semaphore>);

impl Holders {
    pub(super) fn for_pool(max_connections: u32) -> Holders {
        Holders(Arc::new(Semaphore::new((max_connections as usize / 4).max(1))))
    }
}

/// Runs the same expression on a held connection of either engine, with `$c`
/// bound to its typed `PoolConnection`.
macro_rules! on_held {
    ($held:expr, |$c:ident| $body:expr) => {
        match &mut $held.connection {
            $crate::store::held::Connection::Sqlite($c) => $body,
            $crate::store::held::Connection::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_held;

impl Store {
    /// A connection to keep across writes, or `None` when as many as may be
    /// are held already (the caller then borrows from the pool per write).
    pub async fn hold_connection(&self) -> Result<Option<HeldConnection>, StoreError> {
        let Ok(permit) = self.holders.0.clone().try_acquire_owned() else {
            return Ok(None);
        };
        let mut held = self.borrow_connection().await?;
        held._permit = Some(permit);
        Ok(Some(held))
    }

    /// A connection of the pool for one write, back in the pool once dropped.
    pub(super) async fn borrow_connection(&self) -> Result<HeldConnection, sqlx::Error> {
        let connection = match self.pool() {
            Pool::Sqlite(p) => Connection::Sqlite(p.acquire().await?),
            Pool::Postgres(p) => Connection::Postgres(p.acquire().await?),
        };
        Ok(HeldConnection {
            connection,
            _permit: None,
        })
    }
}
