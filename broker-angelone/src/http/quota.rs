//! Angel One's published per-client request quotas, as [`QuotaRule`]s over broker-neutral
//! [`EndpointClass`]es.
//!
//! Figures from SmartAPI's rate-limit page (per client code): login 1/s; `generateTokens`
//! 1/s; `getProfile` 3/s; `getRMS` 2/s; place, modify and cancel 20/s, 500/min and 1000/h
//! each; order book, trade book, positions, holdings and `searchScrip` 1/s; LTP, quote,
//! order details and `convertPosition` 10/s; historical candles 3/s (SmartAPI's figure for
//! its historical API, not in the same table). The regulatory cap of 10 placements a second
//! is not here: it comes from the pre-trade policy (`ConnectOptions::rate_limiter_or` adds
//! [`broker_core::PreTradePolicy::order_pacing`]).

use std::num::NonZeroU32;

use broker_core::{EndpointClass, Quota, QuotaRule};

/// Angel One's published quotas, one budget per class (logout shares the session budget with
/// `generateTokens`; Angel publishes no figure for it).
pub fn default_quota_rules() -> Vec<QuotaRule> {
    use EndpointClass as C;
    let per_second = |classes: &[EndpointClass], count: u32| {
        QuotaRule::new(classes.to_vec(), Quota::per_second(nonzero(count)))
    };
    let mut rules = vec![
        per_second(&[C::Login], 1),
        per_second(&[C::Session], 1),
        per_second(&[C::Profile], 3),
        per_second(&[C::Funds], 2),
    ];
    for class in [C::PlaceOrder, C::ModifyOrder, C::CancelOrder] {
        rules.push(per_second(&[class], 20));
        rules.push(QuotaRule::new([class], Quota::per_minute(nonzero(500))));
        rules.push(QuotaRule::new([class], Quota::per_hour(nonzero(1000))));
    }
    for class in [
        C::OrderBook,
        C::TradeBook,
        C::Positions,
        C::Holdings,
        C::InstrumentSearch,
    ] {
        rules.push(per_second(&[class], 1));
    }
    for class in [C::OrderDetails, C::LastPrice, C::Quote, C::ConvertPosition] {
        rules.push(per_second(&[class], 10));
    }
    rules.push(per_second(&[C::Historical], 3));
    rules
}

fn nonzero(count: u32) -> NonZeroU32 {
    NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Endpoint;

    #[test]
    fn every_endpoint_draws_on_a_published_quota() {
        let rules = default_quota_rules();
        for endpoint in Endpoint::ALL {
            assert!(
                rules
                    .iter()
                    .any(|rule| rule.classes.contains(&endpoint.class())),
                "{endpoint:?}"
            );
        }
    }

    #[test]
    fn order_calls_have_the_published_second_minute_and_hour_quotas() {
        let rules = default_quota_rules();
        for class in [
            EndpointClass::PlaceOrder,
            EndpointClass::ModifyOrder,
            EndpointClass::CancelOrder,
        ] {
            let quotas: Vec<String> = rules
                .iter()
                .filter(|rule| rule.classes == [class])
                .map(|rule| rule.quota.to_string())
                .collect();
            assert_eq!(quotas, ["20/s", "500/min", "1000/h"], "{class:?}");
        }
    }
}
