//! The raw client against a mock SmartAPI: every endpoint's method, path, headers and body,
//! and every error shape. A catch-all mock mounted last fails any request no test expected.

#![allow(clippy::unwrap_used)] // helpers of a test file: a failure should fail the test loudly

use std::collections::BTreeMap;
use std::time::Duration;

use broker_angelone::AngelOne;
use broker_angelone::AngelOneHttpClient;
use broker_angelone::models::{
    CancelOrderBody, ConvertPositionBody, LoginBody, LogoutBody, LtpBody, ModifyOrderBody,
    PlaceOrderBody, QuoteBody, QuoteMode, RefreshBody, SearchScripBody, WireDuration,
    WireOrderType, WireProduct, WireSide, WireVariety,
};
use broker_core::{
    AngelOneCredentials, BrokerError, BrokerSession, ConnectOptions, ConnectivityKind,
    EgressBinding, Exchange, HttpClientConfig, ValidationError,
};
use rust_decimal_macros::dec;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use wiremock::matchers::{any, body_json, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const API_KEY: &str = "wmKEY42x";
const JWT: &str = "eyJwiremock.session.token";
const PUBLIC_IP: &str = "203.0.113.9";

struct Harness {
    server: MockServer,
    client: AngelOneHttpClient,
}

impl Harness {
    async fn new() -> Self {
        let server = MockServer::start().await;
        let client = client_for(&server.uri(), Duration::from_secs(5));
        Self { server, client }
    }

    /// Expects exactly one request with every SmartAPI header, answering `answer`.
    async fn expect(
        &self,
        verb: &str,
        route: &str,
        session: bool,
        body: Option<Value>,
        answer: ResponseTemplate,
    ) {
        let mut mock = with_headers(Mock::given(method(verb)).and(path(route)));
        if session {
            mock = mock.and(header("authorization", format!("Bearer {JWT}").as_str()));
        }
        if let Some(body) = body {
            mock = mock.and(body_json(body));
        }
        mock.respond_with(answer)
            .expect(1)
            .mount(&self.server)
            .await;
        // Mounted after the expectation so it only catches what nothing else matched.
        Mock::given(any())
            .respond_with(ResponseTemplate::new(418).set_body_string("unexpected request"))
            .with_priority(u8::MAX)
            .expect(0)
            .named("catch-all: a request no test expected")
            .mount(&self.server)
            .await;
    }
}

/// A plain-http client leaving from 127.0.0.1 and reporting `PUBLIC_IP` (as behind a NAT).
fn http(timeout: Duration) -> broker_core::HttpClient {
    HttpClientConfig {
        request_timeout: timeout,
        ..HttpClientConfig::bound_to(EgressBinding::translated(
            "127.0.0.1".parse().unwrap(),
            PUBLIC_IP.parse().unwrap(),
        ))
    }
    .allow_plain_http()
    .build()
    .unwrap()
}

fn client_for(base_url: &str, timeout: Duration) -> AngelOneHttpClient {
    AngelOneHttpClient::new(http(timeout), base_url, &SecretString::from(API_KEY)).unwrap()
}

fn with_headers(mock: MockBuilder) -> MockBuilder {
    mock.and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .and(header("x-usertype", "USER"))
        .and(header("x-sourceid", "WEB"))
        .and(header("x-clientlocalip", "127.0.0.1"))
        .and(header("x-clientpublicip", PUBLIC_IP))
        .and(header("x-macaddress", "00:00:00:00:00:00"))
        .and(header("x-privatekey", API_KEY))
}

fn ok(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"status": true, "message": "SUCCESS", "errorcode": "", "data": data}))
}

fn session() -> SecretString {
    SecretString::from(JWT)
}

fn order_row() -> Value {
    json!({
        "variety": "NORMAL", "ordertype": "LIMIT", "producttype": "DELIVERY", "duration": "DAY",
        "price": 801.05, "triggerprice": 0, "quantity": "2", "tradingsymbol": "SBIN-EQ",
        "transactiontype": "BUY", "exchange": "NSE", "symboltoken": "3045", "ordertag": "t1",
        "averageprice": 0, "filledshares": "0", "unfilledshares": "2", "orderid": "2611280001",
        "uniqueorderid": "abc-123", "status": "open", "orderstatus": "open", "text": ""
    })
}

fn place_body() -> PlaceOrderBody {
    PlaceOrderBody {
        variety: WireVariety::Normal,
        tradingsymbol: "SBIN-EQ".into(),
        symboltoken: "3045".into(),
        transactiontype: WireSide::Buy,
        exchange: Exchange::Nse,
        ordertype: WireOrderType::Limit,
        producttype: WireProduct::Delivery,
        duration: WireDuration::Day,
        price: dec!(801.05),
        squareoff: dec!(0),
        stoploss: dec!(0),
        quantity: 2,
        triggerprice: None,
        disclosedquantity: None,
        ordertag: Some("t1".into()),
    }
}

// ------------------------------------------------------------------------------------------
// Every endpoint: method, path, headers, body
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_posts_client_code_mpin_and_totp_without_a_bearer() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/auth/angelbroking/user/v1/loginByPassword",
            false,
            Some(json!({"clientcode": "A123", "password": "4321", "totp": "654321"})),
            ok(json!({"jwtToken": "eyJnew", "refreshToken": "ref", "feedToken": "feed"})),
        )
        .await;
    let (mpin, totp) = (SecretString::from("4321"), SecretString::from("654321"));
    let session = harness
        .client
        .login(&LoginBody {
            clientcode: "A123",
            password: &mpin,
            totp: &totp,
        })
        .await
        .unwrap();
    assert_eq!(session.jwt_token.expose_secret(), "eyJnew");
    let requests = harness.server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn generate_tokens_posts_the_refresh_token_with_the_bearer() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/auth/angelbroking/jwt/v1/generateTokens",
            true,
            Some(json!({"refreshToken": "ref42"})),
            ok(json!({"jwtToken": "eyJnext", "refreshToken": "ref43", "feedToken": "feed"})),
        )
        .await;
    let refresh_token = SecretString::from("ref42");
    let tokens = harness
        .client
        .generate_tokens(
            &session(),
            &RefreshBody {
                refresh_token: &refresh_token,
            },
        )
        .await
        .unwrap();
    assert_eq!(tokens.refresh_token.expose_secret(), "ref43");
}

#[tokio::test]
async fn profile_gets_with_the_bearer() {
    let harness = Harness::new().await;
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/user/v1/getProfile",
            true,
            None,
            ok(json!({"clientcode": "A123", "name": "Asha", "email": "", "exchanges": "[NSE, BSE]", "products": ["DELIVERY"]})),
        )
        .await;
    let profile = harness.client.profile(&session()).await.unwrap();
    assert_eq!(profile.clientcode, "A123");
    assert_eq!(profile.email, None);
    assert_eq!(profile.exchanges, ["NSE", "BSE"]);
}

#[tokio::test]
async fn logout_posts_the_client_code() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/secure/angelbroking/user/v1/logout",
            true,
            Some(json!({"clientcode": "A123"})),
            ok(json!("")),
        )
        .await;
    harness
        .client
        .logout(
            &session(),
            &LogoutBody {
                clientcode: "A123".into(),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn funds_reads_string_amounts_as_decimals() {
    let harness = Harness::new().await;
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/user/v1/getRMS",
            true,
            None,
            ok(json!({"net": "9999.50", "availablecash": "10000.00", "utiliseddebits": "0.50", "collateral": null})),
        )
        .await;
    let funds = harness.client.funds(&session()).await.unwrap();
    assert_eq!(
        (funds.net, funds.utiliseddebits),
        (dec!(9999.50), dec!(0.50))
    );
}

#[tokio::test]
async fn decimals_in_answers_keep_every_digit_never_passing_through_f64() {
    // 96426.329999999999999 is 96426.33 once it has been an f64.
    let raw = |data: &str| {
        ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"status":true,"message":"SUCCESS","errorcode":"","data":{data}}}"#),
            "application/json",
        )
    };
    let harness = Harness::new().await;
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/user/v1/getRMS",
            true,
            None,
            raw(r#"{"net": 96426.329999999999999, "availablecash": "96426.32999999999"}"#),
        )
        .await;
    let funds = harness.client.funds(&session()).await.unwrap();
    assert_eq!(funds.net, dec!(96426.329999999999999));
    assert_eq!(funds.availablecash, dec!(96426.32999999999));

    let harness = Harness::new().await;
    let mut row = order_row();
    row["price"] = json!("PRICE");
    let row = row
        .to_string()
        .replace(r#""PRICE""#, "96426.329999999999999");
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/order/v1/getOrderBook",
            true,
            None,
            raw(&format!("[{row}]")),
        )
        .await;
    let orders = harness.client.order_book(&session()).await.unwrap();
    assert_eq!(orders[0].price, dec!(96426.329999999999999));
}

#[tokio::test]
async fn place_order_posts_every_value_as_a_string() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/secure/angelbroking/order/v1/placeOrder",
            true,
            Some(json!({
                "variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045",
                "transactiontype": "BUY", "exchange": "NSE", "ordertype": "LIMIT",
                "producttype": "DELIVERY", "duration": "DAY", "price": "801.05",
                "squareoff": "0", "stoploss": "0", "quantity": "2", "ordertag": "t1"
            })),
            ok(json!({"script": "SBIN-EQ", "orderid": "2611280001", "uniqueorderid": "abc-123"})),
        )
        .await;
    let ack = harness
        .client
        .place_order(&session(), &place_body())
        .await
        .unwrap();
    assert_eq!(ack.orderid, "2611280001");
    assert_eq!(ack.uniqueorderid.as_deref(), Some("abc-123"));
}

#[tokio::test]
async fn modify_order_posts_the_new_terms() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/secure/angelbroking/order/v1/modifyOrder",
            true,
            Some(json!({
                "variety": "STOPLOSS", "orderid": "2611280001", "ordertype": "STOPLOSS_LIMIT",
                "producttype": "INTRADAY", "duration": "DAY", "price": "805", "quantity": "3",
                "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "exchange": "NSE",
                "triggerprice": "804.5"
            })),
            ok(json!({"orderid": "2611280001", "uniqueorderid": "abc-123"})),
        )
        .await;
    let body = ModifyOrderBody {
        variety: WireVariety::Stoploss,
        orderid: "2611280001".into(),
        ordertype: WireOrderType::StoplossLimit,
        producttype: WireProduct::Intraday,
        duration: WireDuration::Day,
        price: dec!(805),
        quantity: 3,
        tradingsymbol: "SBIN-EQ".into(),
        symboltoken: "3045".into(),
        exchange: Exchange::Nse,
        triggerprice: Some(dec!(804.5)),
    };
    harness
        .client
        .modify_order(&session(), &body)
        .await
        .unwrap();
    let malformed = ModifyOrderBody {
        orderid: String::new(),
        ..body
    };
    let refused = harness.client.modify_order(&session(), &malformed).await;
    assert!(
        matches!(
            refused,
            Err(BrokerError::Validation(
                ValidationError::MalformedOrderId { .. }
            ))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn cancel_order_posts_variety_and_order_id() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/secure/angelbroking/order/v1/cancelOrder",
            true,
            Some(json!({"variety": "NORMAL", "orderid": "2611280001"})),
            ok(json!({"orderid": "2611280001", "uniqueorderid": "abc-123"})),
        )
        .await;
    let body = CancelOrderBody {
        variety: WireVariety::Normal,
        orderid: "2611280001".into(),
    };
    harness
        .client
        .cancel_order(&session(), &body)
        .await
        .unwrap();
    // An id SmartAPI never issues is refused before anything is sent (the catch-all proves
    // nothing else arrived).
    let malformed = CancelOrderBody {
        orderid: "2611280001\",\"variety\":\"AMO".into(),
        ..body
    };
    let refused = harness.client.cancel_order(&session(), &malformed).await;
    assert!(
        matches!(
            &refused,
            Err(BrokerError::Validation(ValidationError::MalformedOrderId { broker, .. }))
                if *broker == broker_core::BrokerKind::AngelOne
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn order_book_gets_rows_and_null_data_means_none() {
    let harness = Harness::new().await;
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/order/v1/getOrderBook",
            true,
            None,
            ok(json!([order_row()])),
        )
        .await;
    let rows = harness.client.order_book(&session()).await.unwrap();
    assert_eq!(rows[0].quantity, 2);

    let empty = Harness::new().await;
    empty
        .expect(
            "GET",
            "/rest/secure/angelbroking/order/v1/getOrderBook",
            true,
            None,
            ok(Value::Null),
        )
        .await;
    assert!(
        empty
            .client
            .order_book(&session())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn trade_book_gets_fills() {
    let harness = Harness::new().await;
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/order/v1/getTradeBook",
            true,
            None,
            ok(
                json!([{"exchange": "NSE", "producttype": "DELIVERY", "tradingsymbol": "SBIN-EQ",
                "transactiontype": "BUY", "fillprice": 801.05, "fillsize": "2",
                "orderid": "2611280001", "fillid": "77", "filltime": "09:15:02"}]),
            ),
        )
        .await;
    let fills = harness.client.trade_book(&session()).await.unwrap();
    assert_eq!(fills[0].fillprice, dec!(801.05));
}

#[tokio::test]
async fn positions_get_net_quantities() {
    let harness = Harness::new().await;
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/order/v1/getPosition",
            true,
            None,
            ok(
                json!([{"exchange": "NSE", "symboltoken": "3045", "producttype": "INTRADAY",
                "tradingsymbol": "SBIN-EQ", "buyqty": "5", "sellqty": "2", "netqty": "3",
                "buyamount": "4000.00", "sellamount": "1602.10", "avgnetprice": "799.30"}]),
            ),
        )
        .await;
    let positions = harness.client.positions(&session()).await.unwrap();
    assert_eq!(positions[0].netqty, 3);
}

#[tokio::test]
async fn holdings_get_quantities_and_prices() {
    let harness = Harness::new().await;
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/portfolio/v1/getHolding",
            true,
            None,
            ok(
                json!([{"tradingsymbol": "SBIN-EQ", "exchange": "NSE", "isin": "INE062A01020",
                "symboltoken": "3045", "quantity": 10, "averageprice": 700.5, "ltp": 801.05,
                "profitandloss": 1005}]),
            ),
        )
        .await;
    let holdings = harness.client.holdings(&session()).await.unwrap();
    assert_eq!(holdings[0].quantity, 10);
}

#[tokio::test]
async fn order_details_gets_by_unique_order_id_in_the_path() {
    let harness = Harness::new().await;
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/order/v1/details/abc-123",
            true,
            None,
            ok(order_row()),
        )
        .await;
    let order = harness
        .client
        .order_details(&session(), "abc-123")
        .await
        .unwrap();
    assert_eq!(order.orderid, "2611280001");
    let refused = harness.client.order_details(&session(), "../getRMS").await;
    assert!(
        matches!(
            refused,
            Err(BrokerError::Validation(
                ValidationError::MalformedOrderId { .. }
            ))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn ltp_posts_exchange_symbol_and_token() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/secure/angelbroking/order/v1/getLtpData",
            true,
            Some(json!({"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045"})),
            ok(
                json!({"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045",
                "open": 800, "high": 805, "low": 799, "close": 801, "ltp": 801.05}),
            ),
        )
        .await;
    let body = LtpBody {
        exchange: Exchange::Nse,
        tradingsymbol: "SBIN-EQ".into(),
        symboltoken: "3045".into(),
    };
    assert_eq!(
        harness.client.ltp(&session(), &body).await.unwrap().ltp,
        dec!(801.05)
    );
}

#[tokio::test]
async fn quote_posts_mode_and_tokens_by_exchange() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/secure/angelbroking/market/v1/quote",
            true,
            Some(json!({"mode": "FULL", "exchangeTokens": {"NSE": ["3045", "1"]}})),
            ok(
                json!({"fetched": [{"exchange": "NSE", "tradingSymbol": "SBIN-EQ",
                "symbolToken": "3045", "ltp": 801.05, "open": 800, "high": 805, "low": 799,
                "close": 801, "tradeVolume": 12000, "exchTradeTime": "28-Nov-2026 09:15:02"}],
                "unfetched": [{"exchange": "NSE", "symbolToken": "1"}]}),
            ),
        )
        .await;
    let body = QuoteBody {
        mode: QuoteMode::Full,
        exchange_tokens: BTreeMap::from([(Exchange::Nse, vec!["3045".into(), "1".into()])]),
    };
    let quotes = harness.client.quote(&session(), &body).await.unwrap();
    assert_eq!(quotes.fetched[0].trade_volume, Some(12000));
    assert_eq!(quotes.unfetched.len(), 1);
}

#[tokio::test]
async fn convert_position_posts_old_and_new_products() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/secure/angelbroking/order/v1/convertPosition",
            true,
            Some(json!({"exchange": "NSE", "oldproducttype": "INTRADAY",
                "newproducttype": "DELIVERY", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045",
                "transactiontype": "BUY", "quantity": "1", "type": "DAY"})),
            ok(Value::Null),
        )
        .await;
    let body = ConvertPositionBody {
        exchange: Exchange::Nse,
        oldproducttype: WireProduct::Intraday,
        newproducttype: WireProduct::Delivery,
        tradingsymbol: "SBIN-EQ".into(),
        symboltoken: "3045".into(),
        transactiontype: WireSide::Buy,
        quantity: 1,
        conversion_type: "DAY".into(),
    };
    harness
        .client
        .convert_position(&session(), &body)
        .await
        .unwrap();
}

#[tokio::test]
async fn search_scrip_posts_exchange_and_text() {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/secure/angelbroking/order/v1/searchScrip",
            true,
            Some(json!({"exchange": "NSE", "searchscrip": "SBIN"})),
            ok(json!([{"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045"}])),
        )
        .await;
    let body = SearchScripBody {
        exchange: Exchange::Nse,
        searchscrip: "SBIN".into(),
    };
    let matches = harness
        .client
        .search_scrip(&session(), &body)
        .await
        .unwrap();
    assert_eq!(matches[0].symboltoken, "3045");
}

// ------------------------------------------------------------------------------------------
// Every error shape
// ------------------------------------------------------------------------------------------

async fn place_answering(answer: ResponseTemplate) -> BrokerError {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/secure/angelbroking/order/v1/placeOrder",
            true,
            None,
            answer,
        )
        .await;
    harness
        .client
        .place_order(&session(), &place_body())
        .await
        .unwrap_err()
}

async fn order_book_answering(answer: ResponseTemplate) -> BrokerError {
    let harness = Harness::new().await;
    harness
        .expect(
            "GET",
            "/rest/secure/angelbroking/order/v1/getOrderBook",
            true,
            None,
            answer,
        )
        .await;
    harness.client.order_book(&session()).await.unwrap_err()
}

fn backend(code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"status": false, "message": message, "errorcode": code, "data": null}),
    )
}

async fn login_answering(answer: ResponseTemplate) -> BrokerError {
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/auth/angelbroking/user/v1/loginByPassword",
            false,
            None,
            answer,
        )
        .await;
    let (mpin, totp) = (SecretString::from("4321"), SecretString::from("654321"));
    harness
        .client
        .login(&LoginBody {
            clientcode: "A123",
            password: &mpin,
            totp: &totp,
        })
        .await
        .unwrap_err()
}

#[tokio::test]
async fn backend_codes_map_to_their_kinds() {
    let error = order_book_answering(backend("AB1010", "AMX Session Expired")).await;
    assert!(error.needs_login(), "{error:?}");
    let error = login_answering(backend("AB1050", "Invalid totp")).await;
    assert!(
        matches!(error, BrokerError::InvalidTotp { .. }),
        "{error:?}"
    );
    let error = login_answering(backend(
        "AB7001",
        "LoginbyPassword is not allowed. Please switch to Login by MPIN now.",
    ))
    .await;
    assert!(
        matches!(&error, BrokerError::InvalidCredentials { message } if message.contains("MPIN")),
        "{error:?}"
    );
    let error = login_answering(backend("AB1007", "Invalid clientcode or password")).await;
    assert!(
        matches!(error, BrokerError::InvalidCredentials { .. }),
        "{error:?}"
    );
    let error = place_answering(backend("AB4008", "ordertag length")).await;
    assert!(
        matches!(&error, BrokerError::OrderRejected { code: Some(code), .. } if code == "AB4008"),
        "{error:?}"
    );
}

#[tokio::test]
async fn documented_string_spellings_of_false_and_null_still_yield_the_code() {
    let answer = ResponseTemplate::new(200).set_body_json(
        json!({"status": "false", "message": "Symbol Not Found", "errorcode": "AB1009", "data": "null"}),
    );
    let error = order_book_answering(answer).await;
    assert_eq!(
        error,
        BrokerError::Broker {
            code: Some("AB1009".into()),
            message: "Symbol Not Found".into(),
            status: Some(200)
        }
    );
}

#[tokio::test]
async fn the_brokers_own_failure_leaves_an_order_unknown_and_a_read_retryable() {
    let internal = || backend("AB1004", "Something Went Wrong, Please Try After Sometime");
    let error = place_answering(internal()).await;
    assert_eq!(
        error,
        BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::BrokerInternal { status: 200 }
        }
    );
    let error = order_book_answering(internal()).await;
    assert!(
        matches!(
            error,
            BrokerError::Connectivity {
                kind: ConnectivityKind::BrokerInternal { status: 200 },
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn gateway_invalid_token_inside_http_200_is_session_expired() {
    let answer = ResponseTemplate::new(200).set_body_json(
        json!({"success": false, "message": "Invalid Token", "errorCode": "AG8001", "data": ""}),
    );
    assert!(order_book_answering(answer).await.needs_login());
}

#[tokio::test]
async fn gateway_invalid_api_key_is_invalid_credentials() {
    let answer = ResponseTemplate::new(403).set_body_json(
        json!({"success": false, "message": "Invalid API Key", "errorCode": "AG8004", "data": ""}),
    );
    let error = order_book_answering(answer).await;
    assert!(
        matches!(error, BrokerError::InvalidCredentials { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn unregistered_ip_names_the_egress_public_address() {
    let answer = ResponseTemplate::new(403).set_body_json(json!({"success": false,
        "message": "Access denied: Unregistered IP address. Register your IP before retrying.",
        "errorCode": "AG7002", "data": ""}));
    let error = place_answering(answer).await;
    assert!(
        matches!(error, BrokerError::IpNotWhitelisted { ip: Some(ip), .. } if ip.to_string() == PUBLIC_IP),
        "{error:?}"
    );
    assert!(error.to_string().contains(PUBLIC_IP));
}

#[tokio::test]
async fn plain_text_access_rate_page_is_rate_limited() {
    let answer = ResponseTemplate::new(403)
        .set_body_string("Access denied because of exceeding access rate");
    let error = order_book_answering(answer).await;
    assert!(
        matches!(error, BrokerError::RateLimited { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn waf_html_page_and_empty_400_are_request_blocked() {
    let html = ResponseTemplate::new(403).set_body_raw(
        "<html><head><title>Request Rejected</title></head><body>Rejected</body></html>",
        "text/html",
    );
    let error = place_answering(html).await;
    assert!(
        matches!(error, BrokerError::RequestBlocked { status: 403, .. }),
        "{error:?}"
    );
    let error = order_book_answering(ResponseTemplate::new(400)).await;
    assert!(
        matches!(error, BrokerError::RequestBlocked { status: 400, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn unknown_codes_keep_code_message_and_status() {
    let answer = ResponseTemplate::new(200).set_body_json(
        json!({"status": false, "message": "Client Is Block For Trading", "errorcode": "AB1006", "data": null}),
    );
    let error = order_book_answering(answer).await;
    assert_eq!(
        error,
        BrokerError::Broker {
            code: Some("AB1006".into()),
            message: "Client Is Block For Trading".into(),
            status: Some(200)
        }
    );
}

#[tokio::test]
async fn server_error_after_an_order_call_is_outcome_unknown_but_retryable_elsewhere() {
    let error = place_answering(ResponseTemplate::new(502).set_body_string("Bad Gateway")).await;
    assert_eq!(
        error,
        BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::ServerError { status: 502 }
        }
    );
    // Even a JSON error envelope in a 5xx leaves an order call's outcome unknown.
    let error = place_answering(ResponseTemplate::new(500).set_body_json(
        json!({"status": false, "message": "ordertag length", "errorcode": "AB4008", "data": null}),
    ))
    .await;
    assert_eq!(
        error,
        BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::BrokerInternal { status: 500 }
        }
    );
    let error = order_book_answering(ResponseTemplate::new(503)).await;
    assert!(
        matches!(
            error,
            BrokerError::Connectivity {
                kind: ConnectivityKind::ServerError { status: 503 },
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn timeout_after_sending_an_order_is_outcome_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(json!({"orderid": "1"})).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok(json!([])).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let client = client_for(&server.uri(), Duration::from_millis(300));
    let error = client
        .place_order(&session(), &place_body())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::Timeout
        }
    );
    assert!(!error.is_retryable());
    let error = client.order_book(&session()).await.unwrap_err();
    assert!(
        matches!(
            error,
            BrokerError::Connectivity {
                kind: ConnectivityKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn refused_connection_is_connectivity_even_for_orders() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client = client_for(&format!("http://{address}"), Duration::from_secs(2));
    let error = client
        .place_order(&session(), &place_body())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            BrokerError::Connectivity {
                kind: ConnectivityKind::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn an_unreadable_success_to_an_order_call_is_outcome_unknown() {
    // The order may have been accepted: the caller must reconcile by tag, not retry.
    for answer in [
        ResponseTemplate::new(200).set_body_string("<html>proxy page</html>"),
        ok(json!({"orderid": ["not", "a", "string"]})),
    ] {
        let error = place_answering(answer).await;
        assert_eq!(
            error,
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::UnreadableAnswer { status: 200 }
            }
        );
    }
}

#[tokio::test]
async fn an_undecodable_success_is_a_decode_error_naming_fields_but_no_values() {
    let mut row = order_row();
    row["quantity"] = json!("Asha Verma");
    let error = order_book_answering(ok(json!([row]))).await;
    assert!(matches!(error, BrokerError::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("[0].quantity"), "{error}");
    assert!(!error.to_string().contains("Asha"), "{error}");
    let harness = Harness::new().await;
    harness
        .expect(
            "POST",
            "/rest/auth/angelbroking/user/v1/loginByPassword",
            false,
            None,
            ok(json!({"jwtToken": 12345678})),
        )
        .await;
    let (mpin, totp) = (SecretString::from("4321"), SecretString::from("654321"));
    let error = harness
        .client
        .login(&LoginBody {
            clientcode: "A123",
            password: &mpin,
            totp: &totp,
        })
        .await
        .unwrap_err();
    assert!(!error.to_string().contains("12345678"), "{error}");
}

#[tokio::test]
async fn http_429_is_rate_limited_with_the_retry_after_it_names() {
    let error =
        order_book_answering(ResponseTemplate::new(429).insert_header("retry-after", "2")).await;
    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(2)),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused_without_quoting_it() {
    let huge = "x".repeat(broker_core::transport::MAX_API_ANSWER_BYTES + 1);
    let error = order_book_answering(ResponseTemplate::new(200).set_body_string(huge)).await;
    assert!(matches!(error, BrokerError::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("limit"), "{error}");
    assert!(error.to_string().len() < 300);
}

// ------------------------------------------------------------------------------------------
// Redirects
// ------------------------------------------------------------------------------------------

/// A server on another origin that must never hear from the client.
async fn thief() -> MockServer {
    let thief = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .named("the redirect target")
        .mount(&thief)
        .await;
    thief
}

fn redirect_to(thief: &MockServer) -> ResponseTemplate {
    ResponseTemplate::new(307).insert_header("location", format!("{}/steal", thief.uri()))
}

#[tokio::test]
async fn a_307_to_another_origin_never_delivers_the_api_key_or_the_mpin_and_totp() {
    let thief = thief().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/auth/angelbroking/user/v1/loginByPassword"))
        .respond_with(redirect_to(&thief))
        .expect(1)
        .mount(&server)
        .await;
    let credentials = AngelOneCredentials::new(
        SecretString::from(API_KEY),
        "A123",
        SecretString::from("4321"),
        SecretString::from("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
    )
    .unwrap();
    let options = ConnectOptions::new(http(Duration::from_secs(5))).with_api_url(server.uri());
    let broker = AngelOne::connect(credentials, None, &options).unwrap();
    let error = broker.login().await.unwrap_err();
    assert!(
        matches!(&error, BrokerError::Decode { message } if message.contains("redirect")),
        "{error:?}"
    );
    // The login went to SmartAPI's address only, with the key and the MPIN and TOTP body.
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].headers.get("x-privatekey").unwrap(), API_KEY);
    assert!(String::from_utf8_lossy(&sent[0].body).contains("\"password\":\"4321\""));
    thief.verify().await;
    assert!(thief.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_redirected_order_is_not_followed_and_its_outcome_is_unknown() {
    let thief = thief().await;
    let error = place_answering(redirect_to(&thief)).await;
    assert_eq!(
        error,
        BrokerError::OrderOutcomeUnknown {
            kind: ConnectivityKind::UnreadableAnswer { status: 307 }
        }
    );
    thief.verify().await;
}
