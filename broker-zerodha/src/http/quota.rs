//! Kite Connect's published rate limits, per API key
//! (<https://kite.trade/docs/connect/v3/exceptions/#api-rate-limit>).

use std::num::NonZeroU32;

use broker_core::{Quota, RateLimiter};

/// The rate-limit class of a Kite endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndpointClass {
    /// `/quote`, `/quote/ohlc`, `/quote/ltp`: 1 request per second.
    Quote,
    /// Placing, modifying and cancelling orders: 10 per second and 400 per minute.
    Order,
    /// Every other endpoint: 10 per second.
    Other,
}

/// Evaluated only in the constants below, so a zero would fail the build, not a request.
const fn count(value: u32) -> NonZeroU32 {
    match NonZeroU32::new(value) {
        Some(count) => count,
        None => panic!("quota counts are positive"),
    }
}

/// Quote requests per second.
pub const QUOTES_PER_SECOND: NonZeroU32 = count(1);
/// Order requests (place, modify, cancel) per second.
pub const ORDERS_PER_SECOND: NonZeroU32 = count(10);
/// Order requests per minute.
pub const ORDERS_PER_MINUTE: NonZeroU32 = count(400);
/// Requests to every other endpoint per second.
pub const OTHERS_PER_SECOND: NonZeroU32 = count(10);

/// A limiter with Kite's quotas, for one account.
pub fn kite_rate_limiter() -> RateLimiter<EndpointClass> {
    RateLimiter::new([
        (
            EndpointClass::Quote,
            vec![Quota::per_second(QUOTES_PER_SECOND)],
        ),
        (
            EndpointClass::Order,
            vec![
                Quota::per_second(ORDERS_PER_SECOND),
                Quota::per_minute(ORDERS_PER_MINUTE),
            ],
        ),
        (
            EndpointClass::Other,
            vec![Quota::per_second(OTHERS_PER_SECOND)],
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_limited_to_one_per_second_and_orders_to_ten() {
        let limiter = kite_rate_limiter();
        limiter.try_acquire(EndpointClass::Quote).unwrap();
        assert!(limiter.try_acquire(EndpointClass::Quote).is_err());
        for _ in 0..10 {
            limiter.try_acquire(EndpointClass::Order).unwrap();
        }
        assert!(limiter.try_acquire(EndpointClass::Order).is_err());
        limiter.try_acquire(EndpointClass::Other).unwrap();
    }
}
