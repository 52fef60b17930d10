//! Per-user limit on the calls that reach a broker (verification, Kite login URLs, creating
//! an account): one user cannot get the platform's egress IPs throttled by the broker.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use vault::UserId;

use crate::error::ApiError;

/// A keyed token bucket: `per_minute` calls per user, refilled evenly.
#[derive(Debug)]
pub struct UserRateLimit {
    limiter: DefaultKeyedRateLimiter<UserId>,
    clock: DefaultClock,
}

impl UserRateLimit {
    /// `per_minute` calls per user per minute (at least one).
    pub fn per_minute(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one call from the user's allowance.
    ///
    /// # Errors
    /// [`ApiError::rate_limited`] with the seconds until the next call is allowed.
    pub fn check(&self, user: UserId) -> Result<(), ApiError> {
        self.limiter.check_key(&user).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::rate_limited(wait.as_secs().max(1))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_has_their_own_allowance() {
        let limit = UserRateLimit::per_minute(2);
        let (alice, bob) = (UserId::new_random(), UserId::new_random());
        assert!(limit.check(alice).is_ok());
        assert!(limit.check(alice).is_ok());
        let refused = limit.check(alice).unwrap_err();
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(
            limit.check(bob).is_ok(),
            "bob is not limited by alice's calls"
        );
    }
}
