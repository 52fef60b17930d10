//! A short-lived per-user cache of `GET /v1/accounts` answers, kept as the serialized JSON.
//!
//! Listing decrypts each account's credentials (for the masked client code) and serializes
//! them, the expensive parts of the hottest read. Every write through the API clears the user's entry at
//! once; changes made elsewhere (the scheduler marking an account `needs_login`, another
//! process) show after at most the configured lifetime.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use vault::UserId;

use axum::body::Bytes;

/// Cached account lists by user.
#[derive(Debug)]
pub struct AccountsCache {
    lifetime: Duration,
    entries: RwLock<HashMap<UserId, Entry>>,
}

#[derive(Debug)]
struct Entry {
    at: Instant,
    /// Which generation of the user's entry this is: a list computed before a write must not
    /// be stored after it.
    generation: u64,
    body: Option<Bytes>,
}

/// A ticket to store a freshly computed list, unless a write happened meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl AccountsCache {
    /// A cache whose entries live `lifetime` (zero: nothing is cached).
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The user's cached list while it is fresh; else a ticket to store the list computed now.
    ///
    /// # Errors
    /// The [`Ticket`] when nothing fresh is cached.
    pub fn get(&self, user: UserId) -> Result<Bytes, Ticket> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        match entries.get(&user) {
            Some(entry) => match &entry.body {
                Some(body) if entry.at.elapsed() < self.lifetime => Ok(body.clone()),
                _ => Err(Ticket(entry.generation)),
            },
            None => Err(Ticket(0)),
        }
    }

    /// Stores the list computed under `ticket`, unless the user's accounts changed since.
    pub fn put(&self, user: UserId, ticket: Ticket, body: Bytes) {
        if self.lifetime.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.entry(user).or_insert(Entry {
            at: Instant::now(),
            generation: 0,
            body: None,
        });
        if entry.generation == ticket.0 {
            entry.at = Instant::now();
            entry.body = Some(body);
        }
    }

    /// Forgets the user's list: their accounts changed.
    pub fn invalidate(&self, user: UserId) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.entry(user).or_insert(Entry {
            at: Instant::now(),
            generation: 0,
            body: None,
        });
        entry.generation += 1;
        entry.body = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_between_computing_and_storing_keeps_the_stale_list_out() {
        let cache = AccountsCache::new(Duration::from_secs(60));
        let user = UserId::new_random();
        let ticket = cache.get(user).unwrap_err();
        cache.invalidate(user);
        cache.put(user, ticket, Bytes::from_static(b"[]"));
        assert!(cache.get(user).is_err(), "computed before the write");
        let ticket = cache.get(user).unwrap_err();
        cache.put(user, ticket, Bytes::from_static(b"[]"));
        assert!(cache.get(user).is_ok());
        cache.invalidate(user);
        assert!(cache.get(user).is_err());
    }

    #[test]
    fn a_zero_lifetime_caches_nothing() {
        let cache = AccountsCache::new(Duration::ZERO);
        let user = UserId::new_random();
        let ticket = cache.get(user).unwrap_err();
        cache.put(user, ticket, Bytes::from_static(b"[]"));
        assert!(cache.get(user).is_err());
    }
}
