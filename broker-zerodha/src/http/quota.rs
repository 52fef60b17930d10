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

const fn count(value: u32) -> NonZeroU32 {
    match NonZeroU32::new(value) {
        Some(count) => count,
        None => panic!("quota counts are positive"),
    }
}

/// A limiter with Kite's quotas, for one account.
pub fn kite_rate_limiter() -> RateLimiter<EndpointClass> {
    RateLimiter::new([
        (EndpointClass::Quote, vec![Quota::per_second(count(1))]),
        (
            EndpointClass::Order,
            vec![Quota::per_second(count(10)), Quota::per_minute(count(400))],
        ),
        (EndpointClass::Other, vec![Quota::per_second(count(10))]),
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
