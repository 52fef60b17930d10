//! Conversions between Kite's wire types and the domain types of `broker_core`.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use rust_decimal::Decimal;

use broker_core::{
    BrokerError, BrokerKind, Exchange, Funds, Holding, InstrumentRef, LastPrice, MarketProtection,
    Ohlc, Order, OrderId, OrderModification, OrderRequest, OrderStatus, OrderType, Position,
    Product, Profile, Quote, Side, Trade, ValidationError, Validity, Variety, ist,
};

use crate::broker::AutoslicePlacement;
use crate::http::models::{
    ModifyOrderBody, PlaceOrderBody, WireAutoslicePlacement, WireError, WireFunds, WireHolding,
    WireLtp, WireOhlc, WireOrder, WirePosition, WireProfile, WireQuote, WireTrade,
};
use crate::http::{Endpoint, kite_error};

fn unknown(field: &str, value: &str) -> BrokerError {
    BrokerError::Decode {
        message: format!("unknown {field} {value:?} in Kite's answer"),
    }
}

/// Kite's exchange code.
pub fn exchange(value: &str) -> Result<Exchange, BrokerError> {
    value.parse().map_err(|_| unknown("exchange", value))
}

/// Kite's name for a product.
///
/// # Errors
/// [`BrokerError::Unsupported`] for a product Kite does not offer.
pub fn product_code(product: Product) -> Result<&'static str, BrokerError> {
    match product {
        Product::Delivery => Ok("CNC"),
        Product::Intraday => Ok("MIS"),
        Product::Carryforward => Ok("NRML"),
        Product::Mtf => Ok("MTF"),
        _ => Err(BrokerError::Unsupported {
            broker: BrokerKind::Zerodha,
            operation: "this product",
        }),
    }
}

/// The product Kite names. The discontinued cover and bracket products (`CO`, `BO`) were
/// intraday-only and map to [`Product::Intraday`].
pub fn product(value: &str) -> Result<Product, BrokerError> {
    match value {
        "CNC" => Ok(Product::Delivery),
        "MIS" | "CO" | "BO" => Ok(Product::Intraday),
        "NRML" => Ok(Product::Carryforward),
        "MTF" => Ok(Product::Mtf),
        _ => Err(unknown("product", value)),
    }
}

/// Kite's name for an order type.
pub fn order_type_code(order_type: OrderType) -> &'static str {
    match order_type {
        OrderType::Market => "MARKET",
        OrderType::Limit => "LIMIT",
        OrderType::StopLimit => "SL",
        OrderType::StopMarket => "SL-M",
    }
}

/// The order type Kite names.
pub fn order_type(value: &str) -> Result<OrderType, BrokerError> {
    match value {
        "MARKET" => Ok(OrderType::Market),
        "LIMIT" => Ok(OrderType::Limit),
        "SL" => Ok(OrderType::StopLimit),
        "SL-M" => Ok(OrderType::StopMarket),
        _ => Err(unknown("order type", value)),
    }
}

/// Kite's name for a side.
pub fn side_code(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// The side Kite names.
pub fn side(value: &str) -> Result<Side, BrokerError> {
    match value {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(unknown("transaction type", value)),
    }
}

/// Kite's `validity` and `validity_ttl`.
pub fn validity_code(validity: Validity) -> (&'static str, Option<u32>) {
    match validity {
        Validity::Day => ("DAY", None),
        Validity::Ioc => ("IOC", None),
        Validity::Ttl { minutes } => ("TTL", Some(minutes)),
    }
}

/// The validity Kite names.
pub fn validity(value: &str, ttl: Option<u32>) -> Result<Validity, BrokerError> {
    match value {
        "DAY" | "" => Ok(Validity::Day),
        "IOC" => Ok(Validity::Ioc),
        "TTL" => Ok(Validity::Ttl {
            minutes: ttl.unwrap_or(0),
        }),
        _ => Err(unknown("validity", value)),
    }
}

/// The variety Kite names.
pub fn variety(value: &str) -> Result<Variety, BrokerError> {
    match value {
        "regular" | "" => Ok(Variety::Regular),
        "amo" => Ok(Variety::Amo),
        "co" => Ok(Variety::Cover),
        "iceberg" => Ok(Variety::Iceberg),
        "auction" => Ok(Variety::Auction),
        _ => Err(unknown("variety", value)),
    }
}

/// Kite's `market_protection`: a percentage, or -1 for automatic.
pub fn market_protection_code(protection: MarketProtection) -> i32 {
    match protection {
        MarketProtection::Percent(percent) => i32::from(percent),
        MarketProtection::Automatic => -1,
    }
}

/// Normalises Kite's order status. Transitional states (`PUT ORDER REQ RECEIVED`,
/// `VALIDATION PENDING`, `OPEN PENDING`, `MODIFY PENDING`, `AMO REQ RECEIVED`, ...) are
/// [`OrderStatus::Pending`]; anything unknown keeps its raw text.
pub fn order_status(status: &str, status_message: Option<&str>) -> OrderStatus {
    match status {
        "OPEN" => OrderStatus::Open,
        "COMPLETE" => OrderStatus::Complete,
        "CANCELLED" | "CANCELLED AMO" => OrderStatus::Cancelled,
        "REJECTED" => OrderStatus::Rejected {
            reason: status_message.unwrap_or_default().to_owned(),
        },
        "TRIGGER PENDING" => OrderStatus::TriggerPending,
        "MODIFIED" => OrderStatus::Pending,
        _ if status.ends_with(" PENDING") || status.ends_with("REQ RECEIVED") => {
            OrderStatus::Pending
        }
        _ => OrderStatus::Unknown {
            raw: status.to_owned(),
        },
    }
}

/// A Kite timestamp (`YYYY-MM-DD HH:MM:SS`, IST).
pub fn ist_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
    ist::offset().from_local_datetime(&naive).single()
}

fn positive(value: Decimal) -> Option<Decimal> {
    (value > Decimal::ZERO).then_some(value)
}

fn instrument(exchange_code: &str, symbol: &str, token: u64) -> Result<InstrumentRef, BrokerError> {
    let reference = InstrumentRef::new(exchange(exchange_code)?, symbol);
    Ok(if token == 0 {
        reference
    } else {
        reference.with_broker_token(token.to_string())
    })
}

/// The `i=` key of an instrument: `EXCHANGE:TRADINGSYMBOL`.
pub fn instrument_key(instrument: &InstrumentRef) -> String {
    format!("{}:{}", instrument.exchange, instrument.trading_symbol)
}

fn instrument_from_key(key: &str, token: u64) -> Result<InstrumentRef, BrokerError> {
    let (exchange_code, symbol) = key
        .split_once(':')
        .ok_or_else(|| unknown("instrument key", key))?;
    instrument(exchange_code, symbol, token)
}

/// A domain order from Kite's.
///
/// # Errors
/// [`BrokerError::Decode`] naming an unknown enumeration value.
pub fn order(wire: &WireOrder) -> Result<Order, BrokerError> {
    Ok(Order {
        order_id: OrderId::new(wire.order_id.clone()),
        exchange_order_id: wire.exchange_order_id.clone().filter(|id| !id.is_empty()),
        instrument: instrument(&wire.exchange, &wire.tradingsymbol, wire.instrument_token)?,
        side: side(&wire.transaction_type)?,
        order_type: order_type(&wire.order_type)?,
        product: product(&wire.product)?,
        validity: validity(&wire.validity, wire.validity_ttl)?,
        variety: variety(&wire.variety)?,
        quantity: wire.quantity,
        filled_quantity: wire.filled_quantity,
        price: positive(wire.price),
        trigger_price: positive(wire.trigger_price),
        average_price: positive(wire.average_price),
        status: order_status(&wire.status, wire.status_message.as_deref()),
        tag: wire.tag.clone().filter(|tag| !tag.is_empty()),
        updated_at: wire
            .exchange_update_timestamp
            .as_deref()
            .or(wire.order_timestamp.as_deref())
            .and_then(ist_timestamp),
    })
}

/// A domain trade from Kite's.
///
/// # Errors
/// [`BrokerError::Decode`] naming an unknown enumeration value.
pub fn trade(wire: &WireTrade) -> Result<Trade, BrokerError> {
    Ok(Trade {
        trade_id: wire.trade_id.clone(),
        order_id: OrderId::new(wire.order_id.clone()),
        instrument: instrument(&wire.exchange, &wire.tradingsymbol, wire.instrument_token)?,
        side: side(&wire.transaction_type)?,
        product: product(&wire.product)?,
        quantity: wire.quantity,
        price: wire.average_price,
        traded_at: wire
            .fill_timestamp
            .as_deref()
            .or(wire.exchange_timestamp.as_deref())
            .and_then(ist_timestamp),
    })
}

/// A domain position from Kite's.
///
/// # Errors
/// [`BrokerError::Decode`] naming an unknown enumeration value.
pub fn position(wire: &WirePosition) -> Result<Position, BrokerError> {
    Ok(Position {
        instrument: instrument(&wire.exchange, &wire.tradingsymbol, wire.instrument_token)?,
        product: product(&wire.product)?,
        quantity: wire.quantity,
        average_price: wire.average_price,
        buy_quantity: wire.buy_quantity,
        sell_quantity: wire.sell_quantity,
        buy_value: wire.buy_value,
        sell_value: wire.sell_value,
        last_price: positive(wire.last_price),
        pnl: Some(wire.pnl),
    })
}

/// A domain holding from Kite's. Its quantity is everything held: settled shares, shares
/// bought but not yet settled (T+1), and shares held under the margin trading facility,
/// which Kite reports in three separate fields.
///
/// # Errors
/// [`BrokerError::Decode`] naming an unknown exchange, or quantities whose sum does not fit.
pub fn holding(wire: &WireHolding) -> Result<Holding, BrokerError> {
    let mtf = wire.mtf.as_ref().map_or(0, |mtf| mtf.quantity);
    let quantity = wire
        .quantity
        .checked_add(wire.t1_quantity)
        .and_then(|sum| sum.checked_add(mtf))
        .ok_or_else(|| BrokerError::Decode {
            message: format!(
                "the holding quantities of {}:{} do not add up to a number",
                wire.exchange, wire.tradingsymbol
            ),
        })?;
    Ok(Holding {
        instrument: instrument(&wire.exchange, &wire.tradingsymbol, wire.instrument_token)?,
        isin: wire.isin.clone().filter(|isin| !isin.is_empty()),
        quantity,
        average_price: wire.average_price,
        last_price: positive(wire.last_price),
        pnl: Some(wire.pnl),
    })
}

/// Funds from the equity segment's margins.
pub fn funds(wire: &WireFunds) -> Funds {
    Funds {
        net: wire.net,
        available_cash: wire.available.cash,
        utilised: wire.utilised.debits,
    }
}

/// The profile; segments that are not exchanges (such as `MF`) are left out.
pub fn profile(wire: &WireProfile) -> Profile {
    Profile {
        broker: BrokerKind::Zerodha,
        user_id: wire.user_id.clone(),
        name: wire.user_name.clone(),
        email: wire.email.clone().filter(|email| !email.is_empty()),
        exchanges: wire
            .exchanges
            .iter()
            .filter_map(|code| code.parse().ok())
            .collect(),
    }
}

fn ohlc(wire: &WireOhlc) -> Ohlc {
    Ohlc {
        open: wire.open,
        high: wire.high,
        low: wire.low,
        close: wire.close,
    }
}

/// A domain quote from one entry of `GET /quote`.
///
/// # Errors
/// [`BrokerError::Decode`] when the key is not `EXCHANGE:SYMBOL` of a known exchange.
pub fn quote(key: &str, wire: &WireQuote) -> Result<Quote, BrokerError> {
    Ok(Quote {
        instrument: instrument_from_key(key, wire.instrument_token)?,
        last_price: wire.last_price,
        ohlc: Some(ohlc(&wire.ohlc)),
        volume: Some(wire.volume),
        last_trade_at: wire.last_trade_time.as_deref().and_then(ist_timestamp),
    })
}

/// A domain last price from one entry of `GET /quote/ltp`.
///
/// # Errors
/// [`BrokerError::Decode`] when the key is not `EXCHANGE:SYMBOL` of a known exchange.
pub fn last_price(key: &str, wire: &WireLtp) -> Result<LastPrice, BrokerError> {
    Ok(LastPrice {
        instrument: instrument_from_key(key, wire.instrument_token)?,
        last_price: wire.last_price,
    })
}

/// Kite's `iceberg_legs` and `iceberg_quantity` of an iceberg request: the quantity over the
/// legs, rounded up to whole lots (31 lots in 2 legs: legs of 16 lots, the last one takes
/// the rest), as Kite computes and checks it.
///
/// # Errors
/// [`ValidationError::MissingField`] for an iceberg request without legs (Kite needs them),
/// [`ValidationError::IcebergLegsOutOfRange`] for more legs than lots.
fn iceberg(
    request: &OrderRequest,
    lot_size: u32,
) -> Result<(Option<u8>, Option<u32>), BrokerError> {
    if request.variety() != Variety::Iceberg {
        return Ok((None, None));
    }
    let legs = request
        .iceberg_legs()
        .ok_or(ValidationError::MissingField {
            field: "iceberg legs",
        })?;
    let lot_size = lot_size.max(1);
    let lots = request.quantity() / lot_size;
    if u32::from(legs) > lots {
        return Err(ValidationError::IcebergLegsOutOfRange {
            legs,
            quantity: request.quantity(),
        }
        .into());
    }
    let leg_quantity = lots.div_ceil(u32::from(legs)) * lot_size;
    Ok((Some(legs), Some(leg_quantity)))
}

/// The form that places `request`, whose instrument trades in lots of `lot_size`.
///
/// # Errors
/// [`BrokerError::Unsupported`] for a product Kite does not offer,
/// [`BrokerError::Validation`] for an iceberg order without legs (or with more legs than
/// lots) or an auction order without its auction number.
pub fn place_order_body(
    request: &OrderRequest,
    lot_size: u32,
) -> Result<PlaceOrderBody, BrokerError> {
    let (validity, validity_ttl) = validity_code(request.validity());
    let (iceberg_legs, iceberg_quantity) = iceberg(request, lot_size)?;
    if request.variety() == Variety::Auction && request.auction_number().is_none() {
        return Err(ValidationError::MissingField {
            field: "auction number",
        }
        .into());
    }
    Ok(PlaceOrderBody {
        exchange: request.instrument().exchange.as_str().to_owned(),
        tradingsymbol: request.instrument().trading_symbol.clone(),
        transaction_type: side_code(request.side()).to_owned(),
        order_type: order_type_code(request.order_type()).to_owned(),
        quantity: request.quantity(),
        product: product_code(request.product())?.to_owned(),
        validity: Some(validity.to_owned()),
        validity_ttl,
        price: request.price(),
        trigger_price: request.trigger_price(),
        disclosed_quantity: request.disclosed_quantity(),
        market_protection: request.market_protection().map(market_protection_code),
        tag: request.tag().map(|tag| tag.as_str().to_owned()),
        algo_id: request.algo_id().map(str::to_owned),
        iceberg_legs,
        iceberg_quantity,
        auction_number: request.auction_number().map(str::to_owned),
        autoslice: None,
    })
}

/// An autosliced placement: the parent id and each slice, placed or refused (a refused
/// slice's error is mapped like the refusal of a placement: `MarginException` is
/// [`BrokerError::OrderRejected`]). `egress_ip` is reported in an IP refusal.
///
/// # Errors
/// [`BrokerError::Decode`] for a slice with neither an order id nor an error.
pub fn autoslice(
    wire: &WireAutoslicePlacement,
    egress_ip: Option<std::net::IpAddr>,
) -> Result<AutoslicePlacement, BrokerError> {
    let slices = wire
        .children
        .iter()
        .map(|child| match (&child.order_id, &child.error) {
            (Some(order_id), _) => Ok(Ok(OrderId::new(order_id.clone()))),
            (None, Some(error)) => {
                let reported = WireError {
                    status: "error".to_owned(),
                    message: error.message.clone(),
                    error_type: Some(error.error_type.clone()),
                };
                Ok(Err(kite_error(
                    error.code,
                    reported,
                    None,
                    Endpoint::PlaceOrder,
                    None,
                    egress_ip,
                )))
            }
            (None, None) => Err(BrokerError::Decode {
                message: "an autoslice child with neither an order id nor an error".into(),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AutoslicePlacement {
        order_id: OrderId::new(wire.order_id.clone()),
        slices,
    })
}

/// The form that applies `change`.
pub fn modify_order_body(change: &OrderModification) -> ModifyOrderBody {
    let (validity, _) = validity_code(change.validity());
    ModifyOrderBody {
        order_type: Some(order_type_code(change.order_type()).to_owned()),
        quantity: Some(change.quantity()),
        price: change.price(),
        trigger_price: change.trigger_price(),
        validity: Some(validity.to_owned()),
        disclosed_quantity: None,
        market_protection: change.market_protection().map(market_protection_code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn statuses_normalise_with_transitional_states_pending_and_unknown_kept() {
        assert_eq!(order_status("OPEN", None), OrderStatus::Open);
        assert_eq!(order_status("COMPLETE", None), OrderStatus::Complete);
        assert_eq!(order_status("CANCELLED", None), OrderStatus::Cancelled);
        assert_eq!(
            order_status("REJECTED", Some("RMS:Margin Exceeds")),
            OrderStatus::Rejected {
                reason: "RMS:Margin Exceeds".into()
            }
        );
        assert_eq!(
            order_status("TRIGGER PENDING", None),
            OrderStatus::TriggerPending
        );
        for transitional in [
            "PUT ORDER REQ RECEIVED",
            "VALIDATION PENDING",
            "OPEN PENDING",
            "MODIFY VALIDATION PENDING",
            "MODIFY PENDING",
            "CANCEL PENDING",
            "AMO REQ RECEIVED",
        ] {
            assert_eq!(
                order_status(transitional, None),
                OrderStatus::Pending,
                "{transitional}"
            );
        }
        assert_eq!(
            order_status("LAPSED", None),
            OrderStatus::Unknown {
                raw: "LAPSED".into()
            }
        );
    }

    #[test]
    fn requests_become_kite_forms_with_products_validity_and_protection() {
        let request = OrderRequest::builder()
            .instrument(InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT"))
            .side(Side::Sell)
            .order_type(OrderType::StopMarket)
            .product(Product::Carryforward)
            .quantity(75)
            .trigger_price(dec!(24000))
            .validity(Validity::Ttl { minutes: 5 })
            .market_protection(MarketProtection::Automatic)
            .tag("run7leg2")
            .algo_id("ALGO42")
            .build()
            .unwrap();
        let params = place_order_body(&request, 75).unwrap();
        let form = serde_urlencoded::to_string(&params).unwrap();
        assert_eq!(
            form,
            "exchange=NFO&tradingsymbol=NIFTY26DECFUT&transaction_type=SELL&order_type=SL-M&quantity=75&product=NRML&validity=TTL&validity_ttl=5&trigger_price=24000&market_protection=-1&tag=run7leg2&algo_id=ALGO42"
        );
        for (domain, code) in [
            (Product::Delivery, "CNC"),
            (Product::Intraday, "MIS"),
            (Product::Carryforward, "NRML"),
            (Product::Mtf, "MTF"),
        ] {
            assert_eq!(product_code(domain).unwrap(), code);
            assert_eq!(product(code).unwrap(), domain);
        }
        assert_eq!(market_protection_code(MarketProtection::Percent(3)), 3);
    }

    #[test]
    fn iceberg_legs_are_the_quantity_over_the_legs_rounded_up_to_whole_lots() {
        let iceberg = |quantity: u32, legs: u8| {
            OrderRequest::builder()
                .instrument(InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT"))
                .side(Side::Buy)
                .order_type(OrderType::Limit)
                .product(Product::Carryforward)
                .quantity(quantity)
                .price(dec!(24000))
                .variety(Variety::Iceberg)
                .iceberg_legs(legs)
                .build()
                .unwrap()
        };
        let body = place_order_body(&iceberg(31 * 65, 2), 65).unwrap();
        assert_eq!(
            (body.iceberg_legs, body.iceberg_quantity),
            (Some(2), Some(16 * 65)),
            "31 lots in 2 legs: 16 lots each, the last one takes the rest"
        );
        let body = place_order_body(&iceberg(1820, 2), 1).unwrap();
        assert_eq!(body.iceberg_quantity, Some(910));
        assert!(matches!(
            place_order_body(&iceberg(3 * 75, 4), 75),
            Err(BrokerError::Validation(
                ValidationError::IcebergLegsOutOfRange { legs: 4, .. }
            ))
        ));
        let without_legs = OrderRequest::builder()
            .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
            .side(Side::Sell)
            .order_type(OrderType::Limit)
            .product(Product::Delivery)
            .quantity(10)
            .price(dec!(800));
        for (variety, field) in [
            (Variety::Iceberg, "iceberg legs"),
            (Variety::Auction, "auction number"),
        ] {
            let request = without_legs.clone().variety(variety).build().unwrap();
            assert_eq!(
                place_order_body(&request, 1),
                Err(BrokerError::Validation(ValidationError::MissingField {
                    field
                })),
                "{variety:?}"
            );
        }
        let auction = without_legs
            .variety(Variety::Auction)
            .auction_number("22")
            .build()
            .unwrap();
        let body = place_order_body(&auction, 1).unwrap();
        assert_eq!(body.auction_number.as_deref(), Some("22"));
        assert_eq!(body.iceberg_legs, None);
    }

    #[test]
    fn unknown_enumerations_are_decode_errors_naming_the_value() {
        let error = order_type("ICEBERG-M").unwrap_err();
        assert!(error.to_string().contains("ICEBERG-M"), "{error}");
        assert!(exchange("NCO").is_err());
    }

    #[test]
    fn holdings_add_settled_t1_and_mtf_shares_and_refuse_sums_that_overflow() {
        let mut wire: WireHolding = serde_json::from_str(
            r#"{"tradingsymbol":"AARON","exchange":"NSE","quantity":1,"t1_quantity":2,
                "mtf":{"quantity":1000}}"#,
        )
        .unwrap();
        assert_eq!(holding(&wire).unwrap().quantity, 1003);
        wire.quantity = u64::MAX;
        let error = holding(&wire).unwrap_err();
        assert!(matches!(error, BrokerError::Decode { .. }), "{error:?}");
        wire.t1_quantity = 0;
        wire.mtf = None;
        assert_eq!(holding(&wire).unwrap().quantity, u64::MAX);
    }
}
