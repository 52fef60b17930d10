//! Validated modifications of open orders.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::validation::{
    ValidationError, check_market_protection, check_prices, check_quantity, check_validity,
};
use crate::{MarketProtection, OrderType, Validity, Variety};

/// New parameters for an open order, checked when built.
///
/// ```
/// use broker_core::{OrderModification, OrderType};
/// use rust_decimal::Decimal;
///
/// let change = OrderModification::builder(OrderType::Limit, 5).price(Decimal::new(800, 0)).build()?;
/// assert_eq!(change.quantity(), 5);
/// # Ok::<(), broker_core::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderModification {
    order_type: OrderType,
    quantity: u32,
    price: Option<Decimal>,
    trigger_price: Option<Decimal>,
    validity: Validity,
    variety: Variety,
    #[serde(skip_serializing_if = "Option::is_none")]
    market_protection: Option<MarketProtection>,
}

impl OrderModification {
    /// A builder for the order's new type and quantity.
    pub fn builder(order_type: OrderType, quantity: u32) -> OrderModificationBuilder {
        OrderModificationBuilder {
            order_type,
            quantity,
            price: None,
            trigger_price: None,
            validity: Validity::Day,
            variety: Variety::Regular,
            market_protection: None,
            tick_size: None,
        }
    }

    /// The new order type.
    pub fn order_type(&self) -> OrderType {
        self.order_type
    }
    /// The new quantity.
    pub fn quantity(&self) -> u32 {
        self.quantity
    }
    /// The new limit price.
    pub fn price(&self) -> Option<Decimal> {
        self.price
    }
    /// The new trigger price.
    pub fn trigger_price(&self) -> Option<Decimal> {
        self.trigger_price
    }
    /// The new validity.
    pub fn validity(&self) -> Validity {
        self.validity
    }
    /// The order's variety (brokers address modifications by it).
    pub fn variety(&self) -> Variety {
        self.variety
    }
    /// Market protection, when the order becomes (or stays) a market or stop-market order.
    pub fn market_protection(&self) -> Option<MarketProtection> {
        self.market_protection
    }
}

/// Builds an [`OrderModification`].
#[derive(Debug, Clone)]
#[must_use]
pub struct OrderModificationBuilder {
    order_type: OrderType,
    quantity: u32,
    price: Option<Decimal>,
    trigger_price: Option<Decimal>,
    validity: Validity,
    variety: Variety,
    market_protection: Option<MarketProtection>,
    tick_size: Option<Decimal>,
}

impl OrderModificationBuilder {
    /// The new limit price.
    pub fn price(mut self, price: Decimal) -> Self {
        self.price = Some(price);
        self
    }
    /// The new trigger price.
    pub fn trigger_price(mut self, trigger_price: Decimal) -> Self {
        self.trigger_price = Some(trigger_price);
        self
    }
    /// The new validity (default: day).
    pub fn validity(mut self, validity: Validity) -> Self {
        self.validity = validity;
        self
    }
    /// The order's variety (default: regular).
    pub fn variety(mut self, variety: Variety) -> Self {
        self.variety = variety;
        self
    }
    /// Market protection for a market or stop-market order (Zerodha refuses API market
    /// orders without it).
    pub fn market_protection(mut self, market_protection: MarketProtection) -> Self {
        self.market_protection = Some(market_protection);
        self
    }
    /// The instrument's tick size, when known.
    pub fn tick_size(mut self, tick_size: Decimal) -> Self {
        self.tick_size = Some(tick_size);
        self
    }

    /// Checks the same quantity, price, validity and market-protection rules as an order
    /// request.
    ///
    /// # Errors
    /// The first [`ValidationError`] found.
    pub fn build(self) -> Result<OrderModification, ValidationError> {
        check_quantity(self.quantity, None)?;
        check_prices(
            self.order_type,
            None,
            self.price,
            self.trigger_price,
            self.tick_size,
        )?;
        check_validity(self.validity)?;
        if let Some(protection) = self.market_protection {
            check_market_protection(self.order_type, protection)?;
        }
        Ok(OrderModification {
            order_type: self.order_type,
            quantity: self.quantity,
            price: self.price,
            trigger_price: self.trigger_price,
            validity: self.validity,
            variety: self.variety,
            market_protection: self.market_protection,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn market_protection_goes_with_market_modifications_only() {
        let change = OrderModification::builder(OrderType::Market, 5)
            .market_protection(MarketProtection::Automatic)
            .build()
            .unwrap();
        assert_eq!(
            change.market_protection(),
            Some(MarketProtection::Automatic)
        );
        assert_eq!(
            OrderModification::builder(OrderType::Limit, 5)
                .price(dec!(10))
                .market_protection(MarketProtection::Percent(2))
                .build(),
            Err(ValidationError::MarketProtectionNotAllowed {
                order_type: OrderType::Limit
            })
        );
        assert_eq!(
            OrderModification::builder(OrderType::Market, 5)
                .market_protection(MarketProtection::Percent(0))
                .build(),
            Err(ValidationError::MarketProtectionOutOfRange { percent: 0 })
        );
    }

    #[test]
    fn modifications_follow_the_same_price_rules() {
        assert!(
            OrderModification::builder(OrderType::Limit, 5)
                .price(dec!(10))
                .build()
                .is_ok()
        );
        assert_eq!(
            OrderModification::builder(OrderType::Limit, 5).build(),
            Err(ValidationError::PriceRequired {
                order_type: OrderType::Limit
            })
        );
        assert_eq!(
            OrderModification::builder(OrderType::Market, 0).build(),
            Err(ValidationError::ZeroQuantity)
        );
        assert_eq!(
            OrderModification::builder(OrderType::Limit, 5)
                .price(dec!(10.02))
                .tick_size(dec!(0.05))
                .build(),
            Err(ValidationError::NotTickMultiple {
                field: "price",
                value: dec!(10.02),
                tick_size: dec!(0.05)
            })
        );
    }
}
