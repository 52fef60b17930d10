//! Per-account request rate limits, by endpoint class.
//!
//! Brokers publish quotas per endpoint ("order book: 1 request a second") or per group of
//! endpoints ("everything else: 10 a second combined"). A [`QuotaRule`] names the classes it
//! covers and one [`Quota`]; a rule covering several classes is one shared budget. Each
//! broker crate gives its default rules, operators may replace them in configuration (quotas
//! read as `"20/s"`, `"500/min"`, `"1000/h"`, `"5000/day"`), and one [`RateLimiter`] per
//! account then spaces that account's requests so the broker never has to refuse them.
//! Limits are in-process: several processes sharing one account must split its quotas.

use std::convert::Infallible;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use governor::Quota as GovernorQuota;
use governor::clock::{Clock, DefaultClock, ReasonablyRealtime};
use governor::state::{InMemoryState, NotKeyed};
use serde::{Deserialize, Serialize};

use crate::{BrokerError, Interned};

/// A class of broker endpoints that share a quota, named the same for every broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndpointClass {
    /// Logging in.
    Login,
    /// Renewing or exchanging session tokens, logging out.
    Session,
    /// The account profile.
    Profile,
    /// Funds and margins.
    Funds,
    /// Placing an order.
    PlaceOrder,
    /// Modifying an order.
    ModifyOrder,
    /// Cancelling an order.
    CancelOrder,
    /// The order book.
    OrderBook,
    /// One order's details or history.
    OrderDetails,
    /// The trade book, or one order's trades.
    TradeBook,
    /// Positions.
    Positions,
    /// Converting a position to another product.
    ConvertPosition,
    /// Holdings.
    Holdings,
    /// Full or OHLC quotes.
    Quote,
    /// Last traded prices.
    LastPrice,
    /// Searching instruments.
    InstrumentSearch,
    /// Downloading the instrument master.
    Instruments,
    /// Historical candles.
    Historical,
}

impl EndpointClass {
    /// Every class, in declaration order.
    pub const ALL: [EndpointClass; 18] = [
        Self::Login,
        Self::Session,
        Self::Profile,
        Self::Funds,
        Self::PlaceOrder,
        Self::ModifyOrder,
        Self::CancelOrder,
        Self::OrderBook,
        Self::OrderDetails,
        Self::TradeBook,
        Self::Positions,
        Self::ConvertPosition,
        Self::Holdings,
        Self::Quote,
        Self::LastPrice,
        Self::InstrumentSearch,
        Self::Instruments,
        Self::Historical,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// At most `count` requests in any `per` interval (with the whole `count` available at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// `count` requests per day (24 hours).
    pub const fn per_day(count: NonZeroU32) -> Self {
        Self {
            count,
            per: Duration::from_secs(86_400),
        }
    }

    fn to_governor(self) -> GovernorQuota {
        let replenish = (self.per / self.count.get()).max(Duration::from_nanos(1));
        GovernorQuota::with_period(replenish)
            .unwrap_or_else(|| unreachable!("period is at least 1 ns"))
            .allow_burst(self.count)
    }
}

const UNITS: [(&str, u64); 4] = [("s", 1), ("min", 60), ("h", 3600), ("day", 86_400)];

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.per.as_secs();
        match UNITS
            .iter()
            .find(|(_, unit)| Duration::from_secs(*unit) == self.per)
        {
            Some((name, _)) => write!(f, "{}/{name}", self.count),
            None if self.per == Duration::from_secs(seconds) => {
                write!(f, "{}/{seconds}s", self.count)
            }
            None => write!(f, "{}/{}ms", self.count, self.per.as_millis()),
        }
    }
}

/// A quota's text was not `COUNT/UNIT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "quota {0:?} is not COUNT/UNIT with a count above zero and a unit of s, min, h or day (e.g. \"10/s\")"
)]
pub struct BadQuota(pub String);

impl FromStr for Quota {
    type Err = BadQuota;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadQuota(text.to_owned());
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: NonZeroU32 = count.trim().parse().map_err(|_| bad())?;
        let unit = unit.trim();
        let per = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, seconds)| Duration::from_secs(*seconds))
            .or_else(|| {
                let seconds: u64 = unit.strip_suffix('s')?.parse().ok()?;
                (seconds > 0).then(|| Duration::from_secs(seconds))
            })
            .or_else(|| {
                let millis: u64 = unit.strip_suffix("ms")?.parse().ok()?;
                (millis > 0).then(|| Duration::from_millis(millis))
            })
            .ok_or_else(bad)?;
        Ok(Self { count, per })
    }
}

impl Serialize for Quota {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quota {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One budget of requests: `quota` shared by every endpoint class in `classes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaRule {
    /// The classes that draw on this budget.
    pub classes: Vec<EndpointClass>,
    /// The budget.
    pub quota: Quota,
}

impl QuotaRule {
    /// A budget for the given classes.
    pub fn new(classes: impl Into<Vec<EndpointClass>>, quota: Quota) -> Self {
        Self {
            classes: classes.into(),
            quota,
        }
    }
}

/// Rate limits of one account.
pub struct RateLimiter {
    plan: Arc<Plan>,
    /// One budget per rule, in the plan's order.
    buckets: Box<[Bucket]>,
}

/// One budget's counter: governor's direct limiter on [`SharedClock`].
type Bucket = governor::RateLimiter<NotKeyed, InMemoryState, SharedClock>;

/// What every limiter built from the same rules shares: a worker holds one limiter per account,
/// tens of thousands of them, and only the budgets' counters differ.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    rules: Vec<QuotaRule>,
    /// For each class (by index), the buckets it draws on.
    by_class: Vec<Vec<usize>>,
}

impl Plan {
    fn new(rules: Vec<QuotaRule>) -> Self {
        let mut by_class = vec![Vec::new(); EndpointClass::ALL.len()];
        for (bucket, rule) in rules.iter().enumerate() {
            for class in &rule.classes {
                let draws = &mut by_class[class.index()];
                if !draws.contains(&bucket) {
                    draws.push(bucket);
                }
            }
        }
        Self { rules, by_class }
    }

    /// The plan of `rules`, shared with the live limiters that have the same rules.
    fn shared(rules: Vec<QuotaRule>) -> Arc<Self> {
        static PLANS: Interned<Vec<QuotaRule>, Plan> = Interned::new();
        PLANS
            .get_or_try_insert(rules, |rules| {
                Ok::<_, Infallible>(Arc::new(Self::new(rules.clone())))
            })
            .unwrap_or_else(|never| match never {})
    }
}

/// One clock for every budget: building a clock reads the CPU's features (`cpuid`), which was
/// a tenth of a worker's CPU while it connected ten thousand accounts.
fn clock() -> &'static DefaultClock {
    static CLOCK: OnceLock<DefaultClock> = OnceLock::new();
    CLOCK.get_or_init(DefaultClock::default)
}

/// A handle on [`clock`], of no size: a limiter built on governor's own clock carries that
/// clock's calibration (40 bytes) in every budget, most of an Angel One account's 23 budgets.
#[derive(Debug, Clone, Copy)]
struct SharedClock;

impl Clock for SharedClock {
    type Instant = <DefaultClock as Clock>::Instant;

    fn now(&self) -> Self::Instant {
        clock().now()
    }
}

impl ReasonablyRealtime for SharedClock {}

impl RateLimiter {
    /// A limiter enforcing every rule. Classes no rule names are not limited.
    pub fn new(rules: impl IntoIterator<Item = QuotaRule>) -> Self {
        let plan = Plan::shared(rules.into_iter().collect());
        let buckets = plan
            .rules
            .iter()
            .map(|rule| Bucket::direct_with_clock(rule.quota.to_governor(), SharedClock))
            .collect();
        Self { plan, buckets }
    }

    /// The rules enforced.
    pub fn rules(&self) -> &[QuotaRule] {
        &self.plan.rules
    }

    /// Waits until a request of this class may be sent, and counts it.
    pub async fn acquire(&self, class: EndpointClass) {
        for &bucket in &self.plan.by_class[class.index()] {
            self.buckets[bucket].until_ready().await;
        }
    }

    /// Counts a request of this class if it may be sent now.
    ///
    /// A request refused by one budget may already have used a cell of the budgets checked
    /// before it; that errs on the side of sending less.
    ///
    /// # Errors
    /// [`BrokerError::RateLimited`] with how long to wait, when a budget is used up.
    pub fn try_acquire(&self, class: EndpointClass) -> Result<(), BrokerError> {
        for &bucket in &self.plan.by_class[class.index()] {
            if let Err(not_until) = self.buckets[bucket].check() {
                let wait = not_until.wait_time_from(clock().now());
                return Err(BrokerError::RateLimited {
                    retry_after: Some(wait),
                    message: format!(
                        "the local quota {} for {class:?} requests is used up",
                        self.plan.rules[bucket].quota
                    ),
                });
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("rules", &self.plan.rules)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(count: u32) -> NonZeroU32 {
        NonZeroU32::new(count).unwrap()
    }

    fn limiter() -> RateLimiter {
        RateLimiter::new([
            QuotaRule::new([EndpointClass::PlaceOrder], Quota::per_second(n(3))),
            QuotaRule::new([EndpointClass::PlaceOrder], Quota::per_minute(n(5))),
            QuotaRule::new([EndpointClass::Login], Quota::per_second(n(1))),
            QuotaRule::new(
                [EndpointClass::Profile, EndpointClass::Funds],
                Quota::per_second(n(2)),
            ),
        ])
    }

    #[test]
    fn a_burst_up_to_the_quota_passes_and_the_next_request_is_refused_with_a_wait() {
        let limiter = limiter();
        for _ in 0..3 {
            limiter.try_acquire(EndpointClass::PlaceOrder).unwrap();
        }
        let error = limiter.try_acquire(EndpointClass::PlaceOrder).unwrap_err();
        let wait = error.retry_after().unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(error.is_retryable());
        assert!(error.to_string().contains("3/s"), "{error}");
    }

    #[test]
    fn classes_are_limited_independently_and_unlisted_classes_are_free() {
        let limiter = limiter();
        limiter.try_acquire(EndpointClass::Login).unwrap();
        assert!(limiter.try_acquire(EndpointClass::Login).is_err());
        limiter.try_acquire(EndpointClass::PlaceOrder).unwrap();
        for _ in 0..100 {
            limiter.try_acquire(EndpointClass::Holdings).unwrap();
        }
    }

    #[test]
    fn a_rule_over_several_classes_is_one_shared_budget() {
        let limiter = limiter();
        limiter.try_acquire(EndpointClass::Profile).unwrap();
        limiter.try_acquire(EndpointClass::Funds).unwrap();
        assert!(limiter.try_acquire(EndpointClass::Profile).is_err());
        assert!(limiter.try_acquire(EndpointClass::Funds).is_err());
    }

    #[test]
    fn accounts_with_the_same_rules_share_the_plan_not_the_budgets() {
        let (first, second) = (limiter(), limiter());
        assert!(Arc::ptr_eq(&first.plan, &second.plan));
        first.try_acquire(EndpointClass::Login).unwrap();
        assert!(first.try_acquire(EndpointClass::Login).is_err());
        second.try_acquire(EndpointClass::Login).unwrap();

        let other = RateLimiter::new([QuotaRule::new(
            [EndpointClass::Login],
            Quota::per_second(n(2)),
        )]);
        assert!(!Arc::ptr_eq(&first.plan, &other.plan));
        other.try_acquire(EndpointClass::Login).unwrap();
        other.try_acquire(EndpointClass::Login).unwrap();
    }

    #[test]
    fn a_budget_holds_its_counter_and_quota_but_no_clock_of_its_own() {
        // The counter, the quota's two figures and the limiter's start: 32 bytes.
        assert!(size_of::<Bucket>() <= 32, "{} bytes", size_of::<Bucket>());
    }

    #[tokio::test]
    async fn acquire_waits_for_the_slowest_quota() {
        let limiter = RateLimiter::new([QuotaRule::new(
            [EndpointClass::Login],
            Quota {
                count: n(1),
                per: Duration::from_millis(200),
            },
        )]);
        limiter.acquire(EndpointClass::Login).await;
        let started = std::time::Instant::now();
        limiter.acquire(EndpointClass::Login).await;
        // governor sleeps on the real clock; the second permit needs about 200 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn quotas_read_and_write_as_count_per_unit() {
        for (text, quota) in [
            ("20/s", Quota::per_second(n(20))),
            ("500/min", Quota::per_minute(n(500))),
            ("1000/h", Quota::per_hour(n(1000))),
            ("5000/day", Quota::per_day(n(5000))),
            (
                "3/10s",
                Quota {
                    count: n(3),
                    per: Duration::from_secs(10),
                },
            ),
        ] {
            assert_eq!(text.parse::<Quota>(), Ok(quota), "{text}");
            assert_eq!(quota.to_string(), text);
        }
        for bad in ["", "10", "0/s", "ten/s", "10/fortnight", "10/0s", "-1/s"] {
            let error = bad.parse::<Quota>().unwrap_err();
            assert!(error.to_string().contains("COUNT/UNIT"), "{bad}: {error}");
        }
        let rule: QuotaRule =
            serde_json::from_str(r#"{"classes":["place_order","modify_order"],"quota":"10/s"}"#)
                .unwrap();
        assert_eq!(
            rule,
            QuotaRule::new(
                [EndpointClass::PlaceOrder, EndpointClass::ModifyOrder],
                Quota::per_second(n(10))
            )
        );
    }
}
