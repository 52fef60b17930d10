//! Per-account request rate limits, one set of quotas per endpoint class.
//!
//! Each broker crate names its endpoint classes (an enum of its own) and the quotas the broker
//! publishes for them; a [`RateLimiter`] per account then spaces that account's requests so
//! the broker never has to refuse them. Quotas are in-process: several processes sharing one
//! account must split its quotas between them.

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota as GovernorQuota};

use crate::BrokerError;

/// At most `count` requests in any `per` interval (with the whole `count` available at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed per interval.
    pub count: NonZeroU32,
    /// The interval.
    pub per: Duration,
}

impl Quota {
    /// `count` requests per second.
    pub const fn per_second(count: NonZeroU32) -> Self {
        Self {
            count,
            per: Duration::from_secs(1),
        }
    }
    /// `count` requests per minute.
    pub const fn per_minute(count: NonZeroU32) -> Self {
        Self {
            count,
            per: Duration::from_secs(60),
        }
    }
    /// `count` requests per hour.
    pub const fn per_hour(count: NonZeroU32) -> Self {
        Self {
            count,
            per: Duration::from_secs(3600),
        }
    }

    fn to_governor(self) -> GovernorQuota {
        let replenish = (self.per / self.count.get()).max(Duration::from_nanos(1));
        GovernorQuota::with_period(replenish)
            .unwrap_or_else(|| unreachable!("period is at least 1 ns"))
            .allow_burst(self.count)
    }
}

/// Rate limits of one account, by endpoint class `K`.
pub struct RateLimiter<K> {
    limits: HashMap<K, Vec<DefaultDirectRateLimiter>>,
}

impl<K: Copy + Eq + Hash + std::fmt::Debug> RateLimiter<K> {
    /// A limiter enforcing, for each class, every quota listed for it. Classes not listed
    /// are not limited.
    pub fn new(quotas: impl IntoIterator<Item = (K, Vec<Quota>)>) -> Self {
        let limits = quotas
            .into_iter()
            .map(|(class, quotas)| {
                let limiters = quotas
                    .into_iter()
                    .map(|quota| DefaultDirectRateLimiter::direct(quota.to_governor()));
                (class, limiters.collect())
            })
            .collect();
        Self { limits }
    }

    /// Waits until a request of this class may be sent, and counts it.
    pub async fn acquire(&self, class: K) {
        for limiter in self.limits.get(&class).into_iter().flatten() {
            limiter.until_ready().await;
        }
    }

    /// Counts a request of this class if it may be sent now.
    ///
    /// A request refused by one quota of a class may already have used a cell of the quotas
    /// checked before it; that errs on the side of sending less.
    ///
    /// # Errors
    /// [`BrokerError::RateLimited`] with how long to wait, when a quota is used up.
    pub fn try_acquire(&self, class: K) -> Result<(), BrokerError> {
        for limiter in self.limits.get(&class).into_iter().flatten() {
            if let Err(not_until) = limiter.check() {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(BrokerError::RateLimited {
                    retry_after: Some(wait),
                    message: format!("local quota for {class:?} requests is used up"),
                });
            }
        }
        Ok(())
    }
}

impl<K: std::fmt::Debug> std::fmt::Debug for RateLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("classes", &self.limits.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Class {
        Order,
        Login,
        Unlimited,
    }

    fn n(count: u32) -> NonZeroU32 {
        NonZeroU32::new(count).unwrap()
    }

    fn limiter() -> RateLimiter<Class> {
        RateLimiter::new([
            (
                Class::Order,
                vec![Quota::per_second(n(3)), Quota::per_minute(n(5))],
            ),
            (Class::Login, vec![Quota::per_second(n(1))]),
        ])
    }

    #[test]
    fn a_burst_up_to_the_quota_passes_and_the_next_request_is_refused_with_a_wait() {
        let limiter = limiter();
        for _ in 0..3 {
            limiter.try_acquire(Class::Order).unwrap();
        }
        let error = limiter.try_acquire(Class::Order).unwrap_err();
        let wait = error.retry_after().unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(error.is_retryable());
    }

    #[test]
    fn classes_are_limited_independently_and_unlisted_classes_are_free() {
        let limiter = limiter();
        limiter.try_acquire(Class::Login).unwrap();
        assert!(limiter.try_acquire(Class::Login).is_err());
        limiter.try_acquire(Class::Order).unwrap();
        for _ in 0..100 {
            limiter.try_acquire(Class::Unlimited).unwrap();
        }
    }

    #[tokio::test]
    async fn acquire_waits_for_the_slowest_quota() {
        let limiter = RateLimiter::new([(
            Class::Login,
            vec![Quota {
                count: n(1),
                per: Duration::from_millis(200),
            }],
        )]);
        limiter.acquire(Class::Login).await;
        let started = std::time::Instant::now();
        limiter.acquire(Class::Login).await;
        // governor sleeps on the real clock; the second permit needs about 200 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
    }
}
