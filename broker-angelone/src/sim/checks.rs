//! The rules the simulator holds orders to, in two layers as at Angel One:
//!
//! - SmartAPI refuses a request it cannot take (the answer is an error envelope, no order
//!   exists): an unknown variety or product, a symbol token it does not know or that names
//!   another symbol, a variety that does not fit the order type, a product the segment does
//!   not allow, bracket orders, tags over 20 characters;
//! - the broker's risk system or the exchange rejects an order SmartAPI took (the answer
//!   carries an order id; the order ends `rejected` with a reason in `text`): market and IOC
//!   orders (refused for API orders since April 2026), quantities that are not whole lots,
//!   prices of zero or off the tick, stop-losses without a trigger or with the trigger on
//!   the wrong side, delivery sales without holdings, purchases beyond the funds.
//!
//! Codes SmartAPI documents are used where one names the case (AB4006 "Invalid
//! symboltoken", AB1008 "Invalid Order Variety", AB1012 "Invalid Product Type", AB2002
//! "ROBO order is block", AB4008); where SmartAPI's exact code or wording for a case is not
//! known the code of its category is used and the function says so. The crate README lists
//! every rule.

use broker_core::{Exchange, Instrument, InstrumentKind};
use rust_decimal::Decimal;

use super::market::on_tick;
use super::responses::Refusal;
use crate::http::models::{
    PlaceOrderBody, WireDuration, WireOrderType, WireProduct, WireSide, WireVariety,
};

/// The longest tag SmartAPI takes.
const MAX_TAG_CHARS: usize = 20;

/// Whether `product` may trade on `exchange`: delivery and margin (MTF) in the cash segments,
/// carry-forward in the derivative segments, intraday everywhere; `BO` only with the (blocked)
/// bracket variety.
pub(crate) fn product_allowed(product: WireProduct, exchange: Exchange) -> bool {
    let cash = matches!(exchange, Exchange::Nse | Exchange::Bse);
    match product {
        WireProduct::Delivery | WireProduct::Margin => cash,
        WireProduct::Carryforward => !cash,
        WireProduct::Intraday => true,
        WireProduct::Bo => false,
    }
}

/// The variety as SmartAPI reads it.
///
/// # Errors
/// AB1008 "Invalid Order Variety" for any other text.
pub(crate) fn variety(text: &str) -> Result<WireVariety, Refusal> {
    text.parse()
        .map_err(|_| Refusal::new("AB1008", "Invalid Order Variety"))
}

/// The product as SmartAPI reads it.
///
/// # Errors
/// AB1012 "Invalid Product Type" for any other text.
pub(crate) fn product(text: &str) -> Result<WireProduct, Refusal> {
    text.parse()
        .map_err(|_| Refusal::new("AB1012", "Invalid Product Type"))
}

/// The instrument an order names by exchange, symbol token and trading symbol.
///
/// # Errors
/// AB4006 "Invalid symboltoken" when the token is not in the master, names another symbol, or
/// names an index (SmartAPI's answer for the last two is not documented; the simulator gives
/// the token's).
pub(crate) fn instrument<'m>(
    found: Option<&'m Instrument>,
    trading_symbol: &str,
) -> Result<&'m Instrument, Refusal> {
    found
        .filter(|instrument| instrument.trading_symbol == trading_symbol.trim())
        .filter(|instrument| instrument.kind != InstrumentKind::Index)
        .ok_or_else(|| Refusal::new("AB4006", "Invalid symboltoken"))
}

/// Whether the order type fits the variety: `NORMAL` takes market and limit orders,
/// `STOPLOSS` stop-loss orders, `AMO` any.
///
/// # Errors
/// AB1008 "Invalid Order Variety" (the code SmartAPI gives a mismatch is not documented).
pub(crate) fn variety_fits(variety: WireVariety, order_type: WireOrderType) -> Result<(), Refusal> {
    let stop_loss = matches!(
        order_type,
        WireOrderType::StoplossLimit | WireOrderType::StoplossMarket
    );
    let fits = match variety {
        WireVariety::Normal => !stop_loss,
        WireVariety::Stoploss => stop_loss,
        WireVariety::Amo | WireVariety::Robo => true,
    };
    if fits {
        Ok(())
    } else {
        Err(Refusal::new("AB1008", "Invalid Order Variety"))
    }
}

/// What SmartAPI refuses outright in a placement whose instrument is `instrument`.
///
/// # Errors
/// The refusal: AB2002 for bracket orders, AB4008 for a long tag, AB1008 for a variety that
/// does not fit the order type, AB1012 for a product the segment does not allow.
pub(crate) fn placement(body: &PlaceOrderBody, instrument: &Instrument) -> Result<(), Refusal> {
    if body.variety == WireVariety::Robo {
        return Err(Refusal::new("AB2002", "ROBO order is block"));
    }
    if body
        .ordertag
        .as_ref()
        .is_some_and(|tag| tag.chars().count() > MAX_TAG_CHARS)
    {
        return Err(Refusal::new(
            "AB4008",
            "ordertag length should be less than 20 characters",
        ));
    }
    variety_fits(body.variety, body.ordertype)?;
    if !product_allowed(body.producttype, instrument.exchange) {
        return Err(Refusal::new("AB1012", "Invalid Product Type"));
    }
    Ok(())
}

/// The terms of an order (placed, or as a modification would leave it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Terms {
    pub side: WireSide,
    pub order_type: WireOrderType,
    pub duration: WireDuration,
    pub price: Decimal,
    pub trigger: Option<Decimal>,
    pub quantity: u32,
}

/// The reason the risk system or the exchange rejects these terms, with the instrument's
/// last price `last`. The texts follow the exchanges' messages; Angel One's exact wording is
/// not published.
pub(crate) fn exchange_rules(
    terms: &Terms,
    instrument: &Instrument,
    last: Decimal,
) -> Option<String> {
    if matches!(
        terms.order_type,
        WireOrderType::Market | WireOrderType::StoplossMarket
    ) {
        return Some(
            "RMS: market orders are not allowed for API orders; place a limit order".to_owned(),
        );
    }
    if terms.duration == WireDuration::Ioc {
        return Some("RMS: IOC orders are not allowed for API orders; use DAY".to_owned());
    }
    let lot = instrument.lot_size.max(1);
    if terms.quantity == 0 || !terms.quantity.is_multiple_of(lot) {
        return Some(format!(
            "The quantity {} is not a multiple of the lot size {lot}",
            terms.quantity
        ));
    }
    let tick = instrument.tick_size;
    if terms.price <= Decimal::ZERO {
        return Some("The order price must be greater than zero".to_owned());
    }
    if !on_tick(terms.price, tick) {
        return Some(format!(
            "The order price {} is not a multiple of the tick size {tick}",
            terms.price
        ));
    }
    if terms.order_type == WireOrderType::StoplossLimit {
        let Some(trigger) = terms.trigger.filter(|trigger| *trigger > Decimal::ZERO) else {
            return Some("A stop loss order needs a trigger price".to_owned());
        };
        if !on_tick(trigger, tick) {
            return Some(format!(
                "The trigger price {trigger} is not a multiple of the tick size {tick}"
            ));
        }
        return match terms.side {
            WireSide::Buy if trigger > terms.price => Some(
                "The trigger price of a buy stop loss order must not be above its limit price"
                    .to_owned(),
            ),
            WireSide::Buy if trigger <= last => Some(format!(
                "The trigger price of a buy stop loss order must be above the last traded price {last}"
            )),
            WireSide::Sell if trigger < terms.price => Some(
                "The trigger price of a sell stop loss order must not be below its limit price"
                    .to_owned(),
            ),
            WireSide::Sell if trigger >= last => Some(format!(
                "The trigger price of a sell stop loss order must be below the last traded price {last}"
            )),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn sbin() -> Instrument {
        let market =
            super::super::market::Market::new(super::super::market::SCRIP_MASTER.into()).unwrap();
        market.instrument(Exchange::Nse, "3045").unwrap().clone()
    }

    fn terms(order_type: WireOrderType, price: Decimal, trigger: Option<Decimal>) -> Terms {
        Terms {
            side: WireSide::Buy,
            order_type,
            duration: WireDuration::Day,
            price,
            trigger,
            quantity: 1,
        }
    }

    #[test]
    fn exchange_rules_catch_each_bad_term_and_pass_good_ones() {
        let last = dec!(801.05);
        let check = |terms: Terms| exchange_rules(&terms, &sbin(), last);
        assert_eq!(check(terms(WireOrderType::Limit, dec!(800), None)), None);
        assert_eq!(
            check(terms(
                WireOrderType::StoplossLimit,
                dec!(805),
                Some(dec!(802))
            )),
            None
        );
        let rejected = [
            terms(WireOrderType::Market, Decimal::ZERO, None),
            terms(WireOrderType::Limit, Decimal::ZERO, None),
            terms(WireOrderType::Limit, dec!(800.03), None),
            terms(WireOrderType::StoplossLimit, dec!(805), None),
            terms(WireOrderType::StoplossLimit, dec!(805), Some(dec!(806))),
            terms(WireOrderType::StoplossLimit, dec!(805), Some(dec!(800))),
            Terms {
                duration: WireDuration::Ioc,
                ..terms(WireOrderType::Limit, dec!(800), None)
            },
            Terms {
                quantity: 0,
                ..terms(WireOrderType::Limit, dec!(800), None)
            },
        ];
        for bad in rejected {
            assert!(check(bad).is_some(), "{bad:?}");
        }
        let sell = Terms {
            side: WireSide::Sell,
            ..terms(WireOrderType::StoplossLimit, dec!(795), Some(dec!(796)))
        };
        assert_eq!(check(sell), None);
        assert!(
            check(Terms {
                trigger: Some(dec!(802)),
                ..sell
            })
            .is_some()
        );
    }

    #[test]
    fn products_follow_the_segment_and_varieties_the_order_type() {
        assert!(product_allowed(WireProduct::Delivery, Exchange::Nse));
        assert!(!product_allowed(WireProduct::Delivery, Exchange::Nfo));
        assert!(product_allowed(WireProduct::Carryforward, Exchange::Mcx));
        assert!(!product_allowed(WireProduct::Carryforward, Exchange::Bse));
        assert!(product_allowed(WireProduct::Intraday, Exchange::Cds));
        assert!(variety_fits(WireVariety::Normal, WireOrderType::Limit).is_ok());
        assert!(variety_fits(WireVariety::Normal, WireOrderType::StoplossLimit).is_err());
        assert!(variety_fits(WireVariety::Stoploss, WireOrderType::Limit).is_err());
        assert!(variety_fits(WireVariety::Amo, WireOrderType::StoplossLimit).is_ok());
    }
}
