//! Per-account request quotas, enforced by a simulator as the broker enforces them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::{BrokerError, EndpointClass, QuotaRule, RateLimiter};

/// The broker's quotas, one budget per account (API key or client code), refusing what goes
/// over them. With no rules nothing is limited.
#[derive(Debug, Default)]
pub struct SimRateLimits {
    rules: Vec<QuotaRule>,
    accounts: Mutex<HashMap<String, Arc<RateLimiter>>>,
}

impl SimRateLimits {
    /// Enforces these rules per account.
    pub fn new(rules: Vec<QuotaRule>) -> Self {
        Self {
            rules,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// The rules enforced.
    pub fn rules(&self) -> &[QuotaRule] {
        &self.rules
    }

    /// Counts a request of `class` for `account`, or says how long it should have waited.
    ///
    /// # Errors
    /// The wait (possibly zero) when a quota is used up.
    pub fn admit(&self, account: &str, class: EndpointClass) -> Result<(), Duration> {
        if self.rules.is_empty() {
            return Ok(());
        }
        let limiter = {
            let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                accounts
                    .entry(account.to_owned())
                    .or_insert_with(|| Arc::new(RateLimiter::new(self.rules.clone()))),
            )
        };
        limiter.try_acquire(class).map_err(|error| match error {
            BrokerError::RateLimited { retry_after, .. } => retry_after.unwrap_or_default(),
            _ => Duration::ZERO,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Quota;
    use std::num::NonZeroU32;

    #[test]
    fn each_account_has_its_own_budget() {
        let limits = SimRateLimits::new(vec![QuotaRule::new(
            [EndpointClass::PlaceOrder],
            Quota::per_second(NonZeroU32::new(2).unwrap()),
        )]);
        assert!(limits.admit("A1", EndpointClass::PlaceOrder).is_ok());
        assert!(limits.admit("A1", EndpointClass::PlaceOrder).is_ok());
        assert!(limits.admit("A1", EndpointClass::PlaceOrder).is_err());
        assert!(limits.admit("B2", EndpointClass::PlaceOrder).is_ok());
        assert!(limits.admit("A1", EndpointClass::OrderBook).is_ok());
        assert!(
            SimRateLimits::default()
                .admit("A1", EndpointClass::PlaceOrder)
                .is_ok()
        );
    }
}
