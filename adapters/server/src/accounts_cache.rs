//! A short-lived per-user cache of `GET /v1/accounts` answers, kept as the serialized JSON.
//!
//! Listing decrypts each account's credentials (for the masked client code) and serializes
//! them, the expensive parts of the hottest read. Every write through the API clears the user's
//! entry at once; changes made elsewhere (the scheduler marking an account `needs_login`,
//! another process) show after at most the configured lifetime plus one refresh.
//!
//! One request per user computes a list at a time: when an entry expires under load, the
//! others keep answering the expired list until the new one is stored (instead of every
//! concurrent request decrypting the same credentials at once), and when there is no list at
//! all (first request, or after a write) they wait for the one being computed.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::sync::{Mutex, OwnedMutexGuard};
use vault::UserId;

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
    /// Held by the one request computing this user's list.
    refresh: Arc<Mutex<()>>,
}

impl Entry {
    fn empty() -> Self {
        Self {
            at: Instant::now(),
            generation: 0,
            body: None,
            refresh: Arc::new(Mutex::new(())),
        }
    }
}

/// What [`AccountsCache::lookup`] found.
#[derive(Debug)]
pub enum Lookup {
    /// The list to answer: fresh, or expired while another request computes its successor.
    Cached(Bytes),
    /// Nothing to answer: compute the list and [`AccountsCache::put`] it with this ticket.
    Compute(Ticket),
}

/// Permission to store a freshly computed list, unless a write happened meanwhile; while it
/// lives, no other request computes the same user's list.
#[derive(Debug)]
pub struct Ticket {
    generation: u64,
    _refreshing: Option<OwnedMutexGuard<()>>,
}

impl AccountsCache {
    /// A cache whose entries live `lifetime` (zero: nothing is cached).
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The user's list when one may be answered, else a ticket to compute it (waiting while
    /// another request computes a list for a user who has none).
    pub async fn lookup(&self, user: UserId) -> Lookup {
        if self.lifetime.is_zero() {
            return Lookup::Compute(Ticket {
                generation: 0,
                _refreshing: None,
            });
        }
        let found = {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            match entries.get(&user) {
                Some(entry) => match &entry.body {
                    Some(body) if entry.at.elapsed() < self.lifetime => {
                        return Lookup::Cached(body.clone());
                    }
                    body => Some((body.clone(), entry.refresh.clone())),
                },
                None => None,
            }
        };
        let (expired, refresh) = found.unwrap_or_else(|| {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            let entry = entries.entry(user).or_insert_with(Entry::empty);
            (None, entry.refresh.clone())
        });
        let guard = match expired {
            Some(expired) => match refresh.try_lock_owned() {
                Ok(guard) => guard,
                Err(_) => return Lookup::Cached(expired),
            },
            None => refresh.lock_owned().await,
        };
        // Another request may have stored a list while this one waited.
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        match entries.get(&user) {
            Some(entry) => match &entry.body {
                Some(body) if entry.at.elapsed() < self.lifetime => Lookup::Cached(body.clone()),
                _ => Lookup::Compute(Ticket {
                    generation: entry.generation,
                    _refreshing: Some(guard),
                }),
            },
            None => Lookup::Compute(Ticket {
                generation: 0,
                _refreshing: Some(guard),
            }),
        }
    }

    /// Stores the list computed under `ticket`, unless the user's accounts changed since.
    pub fn put(&self, user: UserId, ticket: Ticket, body: Bytes) {
        if self.lifetime.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.entry(user).or_insert_with(Entry::empty);
        if entry.generation == ticket.generation {
            entry.at = Instant::now();
            entry.body = Some(body);
        }
    }

    /// Forgets the user's list: their accounts changed.
    pub fn invalidate(&self, user: UserId) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.entry(user).or_insert_with(Entry::empty);
        entry.generation += 1;
        entry.body = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(lookup: Lookup) -> Ticket {
        match lookup {
            Lookup::Compute(ticket) => ticket,
            Lookup::Cached(body) => panic!("expected to compute, got a cached {body:?}"),
        }
    }

    fn cached(lookup: Lookup) -> Bytes {
        match lookup {
            Lookup::Cached(body) => body,
            Lookup::Compute(_) => panic!("expected a cached list"),
        }
    }

    #[tokio::test]
    async fn a_write_between_computing_and_storing_keeps_the_stale_list_out() {
        let cache = AccountsCache::new(Duration::from_secs(60));
        let user = UserId::new_random();
        let computing = ticket(cache.lookup(user).await);
        cache.invalidate(user);
        cache.put(user, computing, Bytes::from_static(b"[1]"));
        let computing = ticket(cache.lookup(user).await);
        cache.put(user, computing, Bytes::from_static(b"[2]"));
        assert_eq!(cached(cache.lookup(user).await), "[2]");
        cache.invalidate(user);
        ticket(cache.lookup(user).await);
    }

    #[tokio::test]
    async fn a_zero_lifetime_caches_nothing_and_never_waits() {
        let cache = AccountsCache::new(Duration::ZERO);
        let user = UserId::new_random();
        let first = ticket(cache.lookup(user).await);
        let _second = ticket(cache.lookup(user).await);
        cache.put(user, first, Bytes::from_static(b"[]"));
        ticket(cache.lookup(user).await);
    }

    #[tokio::test]
    async fn an_expired_list_is_answered_while_one_request_computes_the_next() {
        let cache = AccountsCache::new(Duration::from_millis(20));
        let user = UserId::new_random();
        let computing = ticket(cache.lookup(user).await);
        cache.put(user, computing, Bytes::from_static(b"[old]"));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let refreshing = ticket(cache.lookup(user).await);
        assert_eq!(cached(cache.lookup(user).await), "[old]");
        assert_eq!(cached(cache.lookup(user).await), "[old]");
        cache.put(user, refreshing, Bytes::from_static(b"[new]"));
        assert_eq!(cached(cache.lookup(user).await), "[new]");
    }

    fn spawn_lookup(cache: &Arc<AccountsCache>, user: UserId) -> tokio::task::JoinHandle<Lookup> {
        let cache = Arc::clone(cache);
        tokio::spawn(async move { cache.lookup(user).await })
    }

    #[tokio::test]
    async fn without_a_list_others_wait_for_the_one_being_computed() {
        let cache = Arc::new(AccountsCache::new(Duration::from_secs(60)));
        let user = UserId::new_random();
        let computing = ticket(cache.lookup(user).await);
        let waiting = spawn_lookup(&cache, user);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "it must wait for the list being computed"
        );
        cache.put(user, computing, Bytes::from_static(b"[computed]"));
        assert_eq!(cached(waiting.await.unwrap()), "[computed]");
    }

    #[tokio::test]
    async fn a_failed_computation_lets_the_next_request_compute() {
        let cache = Arc::new(AccountsCache::new(Duration::from_secs(60)));
        let user = UserId::new_random();
        let computing = ticket(cache.lookup(user).await);
        let waiting = spawn_lookup(&cache, user);
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(computing);
        ticket(waiting.await.unwrap());
    }
}
