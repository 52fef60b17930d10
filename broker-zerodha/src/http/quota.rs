//! Kite Connect's published rate limits, per API key
//! (<https://kite.trade/docs/connect/v3/exceptions/#api-rate-limit>), as quota rules over
//! `broker_core`'s endpoint classes.
//!
//! The regulatory cap of 10 orders a second per client is not one of these rules: it comes
//! from the pre-trade policy (`ConnectOptions::rate_limiter_or` adds it), so an operator who
//! registered a faster strategy changes it in one place.

use std::num::NonZeroU32;

use broker_core::{EndpointClass, Quota, QuotaRule};

/// Evaluated only in the constants below, so a zero would fail the build, not a request.
const fn count(value: u32) -> NonZeroU32 {
    match NonZeroU32::new(value) {
        Some(count) => count,
        None => panic!("quota counts are positive"),
    }
}

/// Quote requests (`/quote`, `/quote/ohlc`, `/quote/ltp`) per second.
const QUOTES_PER_SECOND: NonZeroU32 = count(1);
/// Historical candle requests per second.
const HISTORICAL_PER_SECOND: NonZeroU32 = count(3);
/// Order requests (place, modify, cancel together) per second.
const ORDERS_PER_SECOND: NonZeroU32 = count(10);
/// Order requests per minute.
const ORDERS_PER_MINUTE: NonZeroU32 = count(400);
/// Order requests per day.
const ORDERS_PER_DAY: NonZeroU32 = count(5000);
/// Requests to every other endpoint per second, together.
const OTHERS_PER_SECOND: NonZeroU32 = count(10);

const QUOTE_CLASSES: [EndpointClass; 2] = [EndpointClass::Quote, EndpointClass::LastPrice];
const ORDER_CLASSES: [EndpointClass; 3] = [
    EndpointClass::PlaceOrder,
    EndpointClass::ModifyOrder,
    EndpointClass::CancelOrder,
];

/// Kite's quotas for one API key: quotes 1/s; historical data 3/s; orders (place, modify and
/// cancel together) 10/s, 400/min and 5,000/day; every other endpoint 10/s together.
pub fn default_quota_rules() -> Vec<QuotaRule> {
    let others: Vec<EndpointClass> = EndpointClass::ALL
        .into_iter()
        .filter(|class| {
            !QUOTE_CLASSES.contains(class)
                && !ORDER_CLASSES.contains(class)
                && *class != EndpointClass::Historical
        })
        .collect();
    vec![
        QuotaRule::new(QUOTE_CLASSES, Quota::per_second(QUOTES_PER_SECOND)),
        QuotaRule::new(
            [EndpointClass::Historical],
            Quota::per_second(HISTORICAL_PER_SECOND),
        ),
        QuotaRule::new(ORDER_CLASSES, Quota::per_second(ORDERS_PER_SECOND)),
        QuotaRule::new(ORDER_CLASSES, Quota::per_minute(ORDERS_PER_MINUTE)),
        QuotaRule::new(ORDER_CLASSES, Quota::per_day(ORDERS_PER_DAY)),
        QuotaRule::new(others, Quota::per_second(OTHERS_PER_SECOND)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::RateLimiter;

    #[test]
    fn quotes_share_one_per_second_and_orders_share_ten() {
        let limiter = RateLimiter::new(default_quota_rules());
        limiter.try_acquire(EndpointClass::Quote).unwrap();
        assert!(limiter.try_acquire(EndpointClass::LastPrice).is_err());
        for _ in 0..5 {
            limiter.try_acquire(EndpointClass::PlaceOrder).unwrap();
            limiter.try_acquire(EndpointClass::CancelOrder).unwrap();
        }
        assert!(limiter.try_acquire(EndpointClass::ModifyOrder).is_err());
        for _ in 0..3 {
            limiter.try_acquire(EndpointClass::Historical).unwrap();
        }
        assert!(limiter.try_acquire(EndpointClass::Historical).is_err());
    }

    #[test]
    fn every_other_endpoint_shares_ten_a_second() {
        let limiter = RateLimiter::new(default_quota_rules());
        for _ in 0..5 {
            limiter.try_acquire(EndpointClass::Profile).unwrap();
            limiter.try_acquire(EndpointClass::OrderBook).unwrap();
        }
        assert!(limiter.try_acquire(EndpointClass::Holdings).is_err());
        assert!(limiter.try_acquire(EndpointClass::Session).is_err());
    }

    #[test]
    fn every_class_draws_on_some_rule() {
        let rules = default_quota_rules();
        for class in EndpointClass::ALL {
            assert!(
                rules.iter().any(|rule| rule.classes.contains(&class)),
                "{class:?}"
            );
        }
        let day = rules
            .iter()
            .find(|rule| rule.quota == Quota::per_day(ORDERS_PER_DAY))
            .unwrap();
        assert_eq!(day.classes, ORDER_CLASSES);
    }
}
