//! The simulator holds orders to SmartAPI's rules (issue 9): what SmartAPI refuses is
//! refused with its code, what the risk system or the exchange rejects ends `rejected`, a
//! modification never reports a change it did not make, and the client sends what the
//! broker takes (the order's own variety, no market or IOC modification).

mod common;

use broker_angelone::Endpoint;
use broker_angelone::models::{
    CancelOrderBody, ConvertPositionBody, ModifyOrderBody, PlaceOrderBody, WireDuration,
    WireOrderType, WireProduct, WireSide, WireVariety,
};
use broker_core::{
    Broker, BrokerError, Exchange, OrderModification, OrderStatus, OrderType, Product,
    ValidationError, Validity, Variety,
};
use common::{CLIENT_CODE, logged_in, sbin_body, simulator_without_quotas};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn nifty_future(product: WireProduct, quantity: u32) -> PlaceOrderBody {
    PlaceOrderBody {
        tradingsymbol: "NIFTY29DEC26FUT".into(),
        symboltoken: "52000".into(),
        exchange: Exchange::Nfo,
        producttype: product,
        price: dec!(24200),
        quantity,
        ..sbin_body(dec!(790), 1)
    }
}

#[tokio::test]
async fn smartapi_refuses_what_it_cannot_take_with_its_codes_and_places_nothing() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let (broker, token) = logged_in(&simulator).await;
    let cases: Vec<(&str, PlaceOrderBody, &str, &str)> = vec![
        (
            "an unknown symbol token",
            PlaceOrderBody {
                symboltoken: "999999".into(),
                ..sbin_body(dec!(790), 1)
            },
            "AB4006",
            "Invalid symboltoken",
        ),
        (
            "another instrument's token",
            PlaceOrderBody {
                symboltoken: "1594".into(),
                ..sbin_body(dec!(790), 1)
            },
            "AB4006",
            "Invalid symboltoken",
        ),
        (
            "an index",
            PlaceOrderBody {
                tradingsymbol: "Nifty 50".into(),
                symboltoken: "99926000".into(),
                ..sbin_body(dec!(790), 1)
            },
            "AB4006",
            "Invalid symboltoken",
        ),
        (
            "a stop-loss type in the NORMAL variety",
            PlaceOrderBody {
                ordertype: WireOrderType::StoplossLimit,
                triggerprice: Some(dec!(805)),
                price: dec!(806),
                ..sbin_body(dec!(790), 1)
            },
            "AB1008",
            "Invalid Order Variety",
        ),
        (
            "a limit order in the STOPLOSS variety",
            PlaceOrderBody {
                variety: WireVariety::Stoploss,
                ..sbin_body(dec!(790), 1)
            },
            "AB1008",
            "Invalid Order Variety",
        ),
        (
            "delivery of a future",
            nifty_future(WireProduct::Delivery, 65),
            "AB1012",
            "Invalid Product Type",
        ),
        (
            "carry-forward of a share",
            PlaceOrderBody {
                producttype: WireProduct::Carryforward,
                ..sbin_body(dec!(790), 1)
            },
            "AB1012",
            "Invalid Product Type",
        ),
        (
            "a bracket order",
            PlaceOrderBody {
                variety: WireVariety::Robo,
                producttype: WireProduct::Bo,
                ..sbin_body(dec!(790), 1)
            },
            "AB2002",
            "ROBO order is block",
        ),
        (
            "a tag over 20 characters",
            PlaceOrderBody {
                ordertag: Some("x".repeat(21)),
                ..sbin_body(dec!(790), 1)
            },
            "AB4008",
            "ordertag",
        ),
    ];
    for (what, body, code, message) in cases {
        let error = broker
            .client()
            .place_order(&token, &body)
            .await
            .unwrap_err();
        match &error {
            BrokerError::OrderRejected {
                code: Some(found),
                message: text,
            } => {
                assert_eq!(found, code, "{what}");
                assert!(text.contains(message), "{what}: {text}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    assert!(simulator.accepted_orders().is_empty());
    assert!(simulator.orders(CLIENT_CODE).is_empty());
}

#[tokio::test]
async fn what_the_risk_system_or_the_exchange_rejects_ends_rejected_with_its_reason() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let (broker, token) = logged_in(&simulator).await;
    let stop = |price: Decimal, trigger: Option<Decimal>| PlaceOrderBody {
        variety: WireVariety::Stoploss,
        ordertype: WireOrderType::StoplossLimit,
        triggerprice: trigger,
        ..sbin_body(price, 1)
    };
    let cases: Vec<(&str, PlaceOrderBody, &str)> = vec![
        (
            "price zero",
            sbin_body(Decimal::ZERO, 1),
            "greater than zero",
        ),
        (
            "a price off the tick",
            sbin_body(dec!(790.03), 1),
            "tick size",
        ),
        (
            "a stop-loss without trigger",
            stop(dec!(806), None),
            "trigger price",
        ),
        (
            "a buy trigger above its limit",
            stop(dec!(805), Some(dec!(806))),
            "limit price",
        ),
        (
            "a buy trigger at or below the last price",
            stop(dec!(805), Some(dec!(801.05))),
            "last traded price",
        ),
        (
            "a market order",
            PlaceOrderBody {
                ordertype: WireOrderType::Market,
                ..sbin_body(Decimal::ZERO, 1)
            },
            "market orders are not allowed",
        ),
        (
            "an IOC order",
            PlaceOrderBody {
                duration: WireDuration::Ioc,
                ..sbin_body(dec!(790), 1)
            },
            "IOC orders are not allowed",
        ),
        (
            "less than a lot",
            nifty_future(WireProduct::Carryforward, 10),
            "lot size 65",
        ),
        (
            "a delivery sale without holdings",
            PlaceOrderBody {
                transactiontype: WireSide::Sell,
                ..sbin_body(dec!(810), 1)
            },
            "insufficient holdings",
        ),
        (
            "a purchase beyond the funds",
            sbin_body(dec!(790), 200),
            "insufficient funds",
        ),
    ];
    let mut placed = Vec::new();
    for (what, body, reason) in cases {
        let ack = broker
            .client()
            .place_order(&token, &body)
            .await
            .unwrap_or_else(|error| panic!("{what}: SmartAPI takes it, got {error:?}"));
        placed.push((what, ack.orderid, reason));
    }
    let orders = broker.orders().await.unwrap();
    for (what, order_id, reason) in placed {
        let order = orders
            .iter()
            .find(|order| order.order_id.as_str() == order_id)
            .unwrap();
        match &order.status {
            OrderStatus::Rejected { reason: text } => {
                assert!(text.contains(reason), "{what}: {text}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    let trades = broker.trades().await.unwrap();
    assert!(trades.is_empty(), "nothing rejected traded");
}

#[tokio::test]
async fn modify_and_cancel_refuse_what_they_would_not_apply_and_leave_the_order_as_it_was() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let (broker, token) = logged_in(&simulator).await;
    let client = broker.client();
    let ack = client
        .place_order(&token, &sbin_body(dec!(790), 2))
        .await
        .unwrap();
    let change = ModifyOrderBody {
        variety: WireVariety::Normal,
        orderid: ack.orderid.clone(),
        ordertype: WireOrderType::Limit,
        producttype: WireProduct::Delivery,
        duration: WireDuration::Day,
        price: dec!(792),
        quantity: 2,
        tradingsymbol: "SBIN-EQ".into(),
        symboltoken: "3045".into(),
        exchange: Exchange::Nse,
        triggerprice: None,
    };
    let refused =
        async |change: ModifyOrderBody| client.modify_order(&token, &change).await.unwrap_err();
    let code_of = |error: BrokerError| match error {
        BrokerError::OrderRejected { code, .. } => code,
        other => panic!("{other:?}"),
    };
    // A product change is for convertPosition: modifyOrder refuses it instead of reporting a
    // success it did not apply.
    let product = ModifyOrderBody {
        producttype: WireProduct::Intraday,
        ..change.clone()
    };
    assert_eq!(code_of(refused(product).await), Some("AB1012".to_owned()));
    let validity = ModifyOrderBody {
        duration: WireDuration::Ioc,
        ..change.clone()
    };
    assert_eq!(code_of(refused(validity).await), None);
    let variety = ModifyOrderBody {
        variety: WireVariety::Stoploss,
        ordertype: WireOrderType::StoplossLimit,
        triggerprice: Some(dec!(805)),
        price: dec!(806),
        ..change.clone()
    };
    assert_eq!(code_of(refused(variety).await), Some("AB1008".to_owned()));
    let off_tick = ModifyOrderBody {
        price: dec!(792.01),
        ..change.clone()
    };
    assert_eq!(code_of(refused(off_tick).await), None);
    let row = &simulator.orders(CLIENT_CODE)[0];
    assert_eq!(
        (
            row.producttype.as_str(),
            row.duration.as_str(),
            row.price,
            row.status.as_str()
        ),
        ("DELIVERY", "DAY", dec!(790), "open"),
        "nothing was applied"
    );

    // What modifyOrder does apply, it applies.
    client.modify_order(&token, &change).await.unwrap();
    assert_eq!(simulator.orders(CLIENT_CODE)[0].price, dec!(792));

    let wrong_variety = CancelOrderBody {
        variety: WireVariety::Stoploss,
        orderid: ack.orderid.clone(),
    };
    let error = client
        .cancel_order(&token, &wrong_variety)
        .await
        .unwrap_err();
    assert_eq!(code_of(error), Some("AB1008".to_owned()));
    assert_eq!(simulator.orders(CLIENT_CODE)[0].status, "open");

    // A complete order can no longer be modified or cancelled.
    assert!(simulator.fill(&ack.orderid, dec!(792)));
    let error = client.modify_order(&token, &change).await.unwrap_err();
    assert!(error.to_string().contains("complete"), "{error}");
    let cancel = CancelOrderBody {
        variety: WireVariety::Normal,
        orderid: ack.orderid,
    };
    assert!(client.cancel_order(&token, &cancel).await.is_err());
}

#[tokio::test]
async fn convert_position_needs_a_position_and_moves_it_to_the_new_product() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let (broker, _) = logged_in(&simulator).await;
    let conversion = ConvertPositionBody {
        exchange: Exchange::Nse,
        oldproducttype: WireProduct::Intraday,
        newproducttype: WireProduct::Delivery,
        tradingsymbol: "SBIN-EQ".into(),
        symboltoken: "3045".into(),
        transactiontype: WireSide::Buy,
        quantity: 2,
        conversion_type: "DAY".into(),
    };
    let error = broker.convert_position(&conversion).await.unwrap_err();
    assert!(
        matches!(&error, BrokerError::Broker { code: Some(code), .. } if code == "AB1016"),
        "{error:?}"
    );

    // Bought intraday at the last price: filled at once.
    let request = common::limit_buy("conv1")
        .to_builder()
        .product(Product::Intraday)
        .price(dec!(801.05))
        .build()
        .unwrap();
    broker.place_order(&request).await.unwrap();
    let too_many = ConvertPositionBody {
        quantity: 3,
        ..conversion.clone()
    };
    let error = broker.convert_position(&too_many).await.unwrap_err();
    assert!(
        matches!(&error, BrokerError::Broker { code: Some(code), .. } if code == "AB1017"),
        "{error:?}"
    );
    broker.convert_position(&conversion).await.unwrap();
    let positions = broker.positions().await.unwrap();
    let held = |product: Product| {
        positions
            .iter()
            .find(|position| position.product == product)
            .map(|position| position.quantity)
    };
    assert_eq!(held(Product::Delivery), Some(2));
    assert_eq!(held(Product::Intraday), Some(0));
}

#[tokio::test]
async fn cancelling_an_order_placed_elsewhere_sends_its_own_variety_from_the_order_book() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    // Another process placed a stop-loss order (variety STOPLOSS).
    let (other, token) = logged_in(&simulator).await;
    let stop = PlaceOrderBody {
        variety: WireVariety::Stoploss,
        ordertype: WireOrderType::StoplossLimit,
        price: dec!(806),
        triggerprice: Some(dec!(805)),
        ..sbin_body(dec!(806), 1)
    };
    let ack = other.client().place_order(&token, &stop).await.unwrap();
    // This session does not know it, and is told only that it is a regular order.
    let broker = common::broker(&simulator, "127.0.0.1");
    broker
        .cancel_order(&ack.orderid.clone().into(), Variety::Regular)
        .await
        .unwrap();
    assert_eq!(simulator.orders(CLIENT_CODE)[0].status, "cancelled");
}

#[tokio::test]
async fn a_modification_the_broker_would_refuse_is_refused_before_anything_is_sent() {
    let simulator = simulator_without_quotas("127.0.0.1").await;
    let broker = common::broker(&simulator, "127.0.0.1");
    let placement = broker
        .place_order(&common::limit_buy("mod1"))
        .await
        .unwrap();
    let into_stop = OrderModification::builder(OrderType::StopLimit, 2)
        .price(dec!(806))
        .trigger_price(dec!(805))
        .build()
        .unwrap();
    let error = broker
        .modify_order(&placement.order_id, &into_stop)
        .await
        .unwrap_err();
    assert!(
        matches!(error, BrokerError::Unsupported { .. }),
        "{error:?}"
    );
    let ioc = OrderModification::builder(OrderType::Limit, 2)
        .price(dec!(791))
        .validity(Validity::Ioc)
        .build()
        .unwrap();
    let market = OrderModification::builder(OrderType::Market, 2)
        .build()
        .unwrap();
    for change in [ioc, market] {
        let error = broker
            .modify_order(&placement.order_id, &change)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                BrokerError::Validation(ValidationError::Policy { .. })
            ),
            "{error:?}"
        );
    }
    assert_eq!(simulator.requests_to(Endpoint::ModifyOrder), 0);
}
