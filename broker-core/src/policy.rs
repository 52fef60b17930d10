//! Pre-trade policy: broker and regulatory rules checked before any order request leaves.
//!
//! A [`PreTradePolicy`] is plain data (serde), so operators can tighten it per broker in
//! configuration; [`PreTradePolicy::for_broker`] gives the rules of the 2026 SEBI retail-algo
//! framework as each broker applies them. The per-client cap on orders per second needs
//! state: the broker clients pace placements to it ([`PreTradePolicy::order_pacing`]), and an
//! [`OrderRateGuard`] refuses the excess where refusing is wanted (the paper broker). The
//! 20-character tag limit both brokers share is checked once, by [`crate::OrderTag`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::validation::ValidationError;
use crate::{BrokerKind, OrderRequest, OrderType, ValidityKind};

/// The rule of a [`PreTradePolicy`] that refused an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyRule {
    /// The broker does not accept this order type from API clients.
    OrderTypeRefused,
    /// The broker does not accept this validity from API clients.
    ValidityRefused,
    /// Market and stop-market orders must carry market protection.
    MarketProtectionRequired,
    /// The client sent more orders per second than allowed without exchange registration.
    OrderRateExceeded,
}

impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyRule::OrderTypeRefused => "order_type_refused",
            PolicyRule::ValidityRefused => "validity_refused",
            PolicyRule::MarketProtectionRequired => "market_protection_required",
            PolicyRule::OrderRateExceeded => "order_rate_exceeded",
        })
    }
}

/// The rules one broker applies to API orders, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreTradePolicy {
    /// The broker the rules are for (named in errors).
    pub broker: BrokerKind,
    /// Order types refused outright.
    #[serde(default)]
    pub refused_order_types: Vec<OrderType>,
    /// Validities refused outright.
    #[serde(default)]
    pub refused_validities: Vec<ValidityKind>,
    /// Order types that must carry market protection.
    #[serde(default)]
    pub market_protection_required_for: Vec<OrderType>,
    /// The most orders one client may send in any one second (0: no cap, for a strategy
    /// registered with the exchange).
    pub max_orders_per_second: u32,
}

impl PreTradePolicy {
    /// The rules a broker applies under the 2026 retail-algo framework:
    ///
    /// - Angel One refuses market orders (and so stop-market) and IOC validity for API orders;
    /// - Zerodha refuses market and SL-M orders without market protection;
    /// - both: at most 10 orders per second per client.
    ///
    /// The paper broker follows no broker's extra rules.
    pub fn for_broker(broker: BrokerKind) -> Self {
        let common = Self {
            broker,
            refused_order_types: Vec::new(),
            refused_validities: Vec::new(),
            market_protection_required_for: Vec::new(),
            max_orders_per_second: 10,
        };
        match broker {
            BrokerKind::AngelOne => Self {
                refused_order_types: vec![OrderType::Market, OrderType::StopMarket],
                refused_validities: vec![ValidityKind::Ioc],
                ..common
            },
            BrokerKind::Zerodha => Self {
                market_protection_required_for: vec![OrderType::Market, OrderType::StopMarket],
                ..common
            },
            BrokerKind::Paper => common,
        }
    }

    /// Checks the stateless rules against one request.
    ///
    /// # Errors
    /// [`ValidationError::Policy`] naming the first rule the request breaks.
    pub fn check(&self, request: &OrderRequest) -> Result<(), ValidationError> {
        self.check_type_and_validity(request.order_type(), request.validity().kind())?;
        if self
            .market_protection_required_for
            .contains(&request.order_type())
            && request.market_protection().is_none()
        {
            return Err(ValidationError::Policy {
                broker: self.broker,
                rule: PolicyRule::MarketProtectionRequired,
                detail: format!(
                    "{} orders need market protection (a percentage or automatic)",
                    request.order_type()
                ),
            });
        }
        Ok(())
    }

    /// Checks the order-type and validity rules against a modification: a modification may
    /// not turn an order into one the broker refuses from API clients.
    ///
    /// # Errors
    /// [`ValidationError::Policy`] naming the rule the modification breaks.
    pub fn check_modification(
        &self,
        change: &crate::OrderModification,
    ) -> Result<(), ValidationError> {
        self.check_type_and_validity(change.order_type(), change.validity().kind())
    }

    fn check_type_and_validity(
        &self,
        order_type: OrderType,
        validity: ValidityKind,
    ) -> Result<(), ValidationError> {
        let refuse = |rule, detail: String| {
            Err(ValidationError::Policy {
                broker: self.broker,
                rule,
                detail,
            })
        };
        if self.refused_order_types.contains(&order_type) {
            return refuse(
                PolicyRule::OrderTypeRefused,
                format!("{order_type} orders are not accepted from API clients; use a limit order"),
            );
        }
        if self.refused_validities.contains(&validity) {
            return refuse(
                PolicyRule::ValidityRefused,
                format!("{validity} validity is not accepted from API clients; use DAY"),
            );
        }
        Ok(())
    }
}

#[cfg(feature = "rate-limit")]
impl PreTradePolicy {
    /// The budget that paces one client's placements to
    /// [`PreTradePolicy::max_orders_per_second`]; `None` when the policy sets no cap (0).
    /// Broker clients add it to their rate limits, so an eleventh order in a second waits
    /// instead of being refused.
    pub fn order_pacing(&self) -> Option<crate::QuotaRule> {
        std::num::NonZeroU32::new(self.max_orders_per_second).map(|count| {
            crate::QuotaRule::new(
                [crate::EndpointClass::PlaceOrder],
                crate::Quota::per_second(count),
            )
        })
    }
}

/// Enforces [`PreTradePolicy::max_orders_per_second`] per client over a sliding one-second
/// window. Refused attempts do not count.
#[derive(Debug)]
pub struct OrderRateGuard {
    policy: PreTradePolicy,
    sent: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl OrderRateGuard {
    /// A guard enforcing this policy's rules.
    pub fn new(policy: PreTradePolicy) -> Self {
        Self {
            policy,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// The policy enforced.
    pub fn policy(&self) -> &PreTradePolicy {
        &self.policy
    }

    /// Checks every rule for an order `client_id` is about to send now, and counts it.
    ///
    /// # Errors
    /// [`ValidationError::Policy`] naming the rule broken.
    pub fn admit(&self, client_id: &str, request: &OrderRequest) -> Result<(), ValidationError> {
        self.admit_at(client_id, request, Instant::now())
    }

    /// [`OrderRateGuard::admit`] at a given instant (for tests and simulations).
    ///
    /// # Errors
    /// [`ValidationError::Policy`] naming the rule broken.
    pub fn admit_at(
        &self,
        client_id: &str,
        request: &OrderRequest,
        now: Instant,
    ) -> Result<(), ValidationError> {
        self.policy.check(request)?;
        let window = Duration::from_secs(1);
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let recent = sent.entry(client_id.to_owned()).or_default();
        while recent
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) >= window)
        {
            recent.pop_front();
        }
        let limit = self.policy.max_orders_per_second as usize;
        if limit > 0 && recent.len() >= limit {
            return Err(ValidationError::Policy {
                broker: self.policy.broker,
                rule: PolicyRule::OrderRateExceeded,
                detail: format!(
                    "client {client_id} already sent {limit} orders in the last second; more needs the strategy registered with the exchange"
                ),
            });
        }
        recent.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Exchange, InstrumentRef, MarketProtection, Product, Side, Validity};
    use rust_decimal_macros::dec;

    fn order(order_type: OrderType) -> crate::OrderRequestBuilder {
        let builder = OrderRequest::builder()
            .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
            .side(Side::Buy)
            .order_type(order_type)
            .product(Product::Intraday)
            .quantity(1);
        let builder = if order_type.needs_price() {
            builder.price(dec!(800))
        } else {
            builder
        };
        if order_type.needs_trigger() {
            builder.trigger_price(dec!(799))
        } else {
            builder
        }
    }

    fn rule_of(result: Result<(), ValidationError>) -> Option<PolicyRule> {
        match result {
            Err(ValidationError::Policy { rule, .. }) => Some(rule),
            _ => None,
        }
    }

    #[test]
    fn angel_one_refuses_market_and_stop_market_orders_but_accepts_limits() {
        let policy = PreTradePolicy::for_broker(BrokerKind::AngelOne);
        for order_type in [OrderType::Market, OrderType::StopMarket] {
            let result = policy.check(&order(order_type).build().unwrap());
            assert_eq!(
                rule_of(result),
                Some(PolicyRule::OrderTypeRefused),
                "{order_type}"
            );
        }
        for order_type in [OrderType::Limit, OrderType::StopLimit] {
            assert_eq!(
                policy.check(&order(order_type).build().unwrap()),
                Ok(()),
                "{order_type}"
            );
        }
    }

    #[test]
    fn a_modification_may_not_turn_an_order_into_one_the_broker_refuses() {
        let policy = PreTradePolicy::for_broker(BrokerKind::AngelOne);
        let limit = crate::OrderModification::builder(OrderType::Limit, 1)
            .price(dec!(10))
            .build()
            .unwrap();
        assert_eq!(policy.check_modification(&limit), Ok(()));
        let market = crate::OrderModification::builder(OrderType::Market, 1)
            .build()
            .unwrap();
        assert!(matches!(
            policy.check_modification(&market),
            Err(ValidationError::Policy {
                rule: PolicyRule::OrderTypeRefused,
                ..
            })
        ));
        let ioc = crate::OrderModification::builder(OrderType::Limit, 1)
            .price(dec!(10))
            .validity(Validity::Ioc)
            .build()
            .unwrap();
        assert!(matches!(
            policy.check_modification(&ioc),
            Err(ValidationError::Policy {
                rule: PolicyRule::ValidityRefused,
                ..
            })
        ));
        let paper = PreTradePolicy::for_broker(BrokerKind::Paper);
        assert_eq!(paper.check_modification(&market), Ok(()));
    }

    #[test]
    fn angel_one_refuses_ioc_but_accepts_day() {
        let policy = PreTradePolicy::for_broker(BrokerKind::AngelOne);
        let ioc = order(OrderType::Limit)
            .validity(Validity::Ioc)
            .build()
            .unwrap();
        assert_eq!(
            rule_of(policy.check(&ioc)),
            Some(PolicyRule::ValidityRefused)
        );
        let day = order(OrderType::Limit)
            .validity(Validity::Day)
            .build()
            .unwrap();
        assert_eq!(policy.check(&day), Ok(()));
    }

    #[test]
    fn zerodha_needs_market_protection_on_market_and_sl_m() {
        let policy = PreTradePolicy::for_broker(BrokerKind::Zerodha);
        for order_type in [OrderType::Market, OrderType::StopMarket] {
            let bare = order(order_type).build().unwrap();
            assert_eq!(
                rule_of(policy.check(&bare)),
                Some(PolicyRule::MarketProtectionRequired)
            );
            let protected = order(order_type)
                .market_protection(MarketProtection::Percent(2))
                .build()
                .unwrap();
            assert_eq!(policy.check(&protected), Ok(()));
        }
        assert_eq!(
            policy.check(&order(OrderType::Limit).build().unwrap()),
            Ok(())
        );
        let ioc = order(OrderType::Limit)
            .validity(Validity::Ioc)
            .build()
            .unwrap();
        assert_eq!(policy.check(&ioc), Ok(()), "Zerodha accepts IOC");
    }

    #[cfg(feature = "rate-limit")]
    #[test]
    fn placements_are_paced_at_the_policy_rate() {
        let policy = PreTradePolicy {
            max_orders_per_second: 4,
            ..PreTradePolicy::for_broker(BrokerKind::Zerodha)
        };
        let rule = policy.order_pacing().unwrap();
        assert_eq!(rule.classes, [crate::EndpointClass::PlaceOrder]);
        assert_eq!(rule.quota.to_string(), "4/s");
        let uncapped = PreTradePolicy {
            max_orders_per_second: 0,
            ..policy
        };
        assert_eq!(uncapped.order_pacing(), None);
    }

    #[test]
    fn policy_errors_name_the_rule_and_the_broker() {
        let policy = PreTradePolicy::for_broker(BrokerKind::AngelOne);
        let error = policy
            .check(&order(OrderType::Market).build().unwrap())
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("order_type_refused") && text.contains("Angel One"),
            "{text}"
        );
    }

    #[test]
    fn policy_round_trips_through_serde_as_configuration() {
        let policy = PreTradePolicy::for_broker(BrokerKind::AngelOne);
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            serde_json::from_str::<PreTradePolicy>(&json).unwrap(),
            policy
        );
    }

    #[test]
    fn the_eleventh_order_within_a_second_is_refused_and_the_window_slides() {
        let guard = OrderRateGuard::new(PreTradePolicy::for_broker(BrokerKind::Zerodha));
        let request = order(OrderType::Limit).build().unwrap();
        let start = Instant::now();
        for i in 0..10 {
            assert_eq!(
                guard.admit_at("AB1234", &request, start + Duration::from_millis(i * 50)),
                Ok(())
            );
        }
        let eleventh = guard.admit_at("AB1234", &request, start + Duration::from_millis(600));
        assert_eq!(rule_of(eleventh), Some(PolicyRule::OrderRateExceeded));
        assert_eq!(
            guard.admit_at("XY9876", &request, start + Duration::from_millis(600)),
            Ok(()),
            "other clients are separate"
        );
        assert_eq!(
            guard.admit_at("AB1234", &request, start + Duration::from_millis(1000)),
            Ok(()),
            "the first order left the window"
        );
    }

    #[test]
    fn orders_refused_by_a_rule_do_not_use_up_the_rate() {
        let guard = OrderRateGuard::new(PreTradePolicy {
            max_orders_per_second: 1,
            ..PreTradePolicy::for_broker(BrokerKind::AngelOne)
        });
        let start = Instant::now();
        let market = order(OrderType::Market).build().unwrap();
        assert!(guard.admit_at("A1", &market, start).is_err());
        assert_eq!(
            guard.admit_at("A1", &order(OrderType::Limit).build().unwrap(), start),
            Ok(())
        );
    }
}
