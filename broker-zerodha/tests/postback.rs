//! Postback verification: checksum = SHA-256(order_id + order_timestamp + api_secret) over the
//! raw strings, compared in constant time, before anything in the payload is trusted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common;

use broker_core::{OrderStatus, Product};
use broker_zerodha::{PostbackError, verify_postback};
use common::{API_SECRET, fixture};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Kite's postback checksum: hex SHA-256 of the concatenated parts.
fn checksum(parts: &[&str]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(parts.concat().as_bytes()))
}

fn payload() -> Value {
    serde_json::from_str(&fixture("postback.json")).unwrap()
}

fn verify(payload: &Value, secret: &str) -> Result<broker_zerodha::Postback, PostbackError> {
    verify_postback(payload.to_string().as_bytes(), &secret.into())
}

#[test]
fn a_genuine_postback_verifies_and_becomes_a_domain_order() {
    let postback = verify(&payload(), API_SECRET).unwrap();
    assert_eq!(postback.user_id, "MI4821");
    assert_eq!(postback.raw_status, "COMPLETE");
    assert_eq!(postback.order.order_id.as_str(), "261202000118734");
    assert_eq!(postback.order.status, OrderStatus::Complete);
    assert_eq!(postback.order.product, Product::Delivery);
    assert_eq!(postback.order.filled_quantity, 10);
}

#[test]
fn a_tampered_order_id_or_timestamp_is_refused() {
    for (field, forged) in [
        ("order_id", "261202000118735"),
        ("order_timestamp", "2026-12-02 09:16:05"),
    ] {
        let mut tampered = payload();
        tampered[field] = Value::from(forged);
        assert_eq!(
            verify(&tampered, API_SECRET).unwrap_err(),
            PostbackError::ChecksumMismatch,
            "{field}"
        );
    }
}

#[test]
fn a_postback_signed_with_another_secret_is_refused() {
    assert_eq!(
        verify(&payload(), "someoneElsesSecret").unwrap_err(),
        PostbackError::ChecksumMismatch
    );
}

#[test]
fn the_timestamp_is_hashed_exactly_as_received() {
    // The same instant written in another format no longer matches the signature...
    let mut reformatted = payload();
    reformatted["order_timestamp"] = Value::from("2026-12-02T09:16:04+05:30");
    assert_eq!(
        verify(&reformatted, API_SECRET).unwrap_err(),
        PostbackError::ChecksumMismatch
    );
    // ...and a payload signed over that other format verifies: nothing is re-formatted.
    let signature = checksum(&["261202000118734", "2026-12-02T09:16:04+05:30", API_SECRET]);
    reformatted["checksum"] = Value::from(signature);
    let postback = verify(&reformatted, API_SECRET).unwrap();
    assert!(
        postback.order.updated_at.is_some(),
        "the exchange timestamp still parses"
    );
}

#[test]
fn bodies_that_are_not_postbacks_are_malformed() {
    assert!(matches!(
        verify_postback(b"<html></html>", &API_SECRET.into()),
        Err(PostbackError::Malformed(_))
    ));
    let mut without_timestamp = payload();
    without_timestamp
        .as_object_mut()
        .unwrap()
        .remove("order_timestamp");
    assert!(matches!(
        verify(&without_timestamp, API_SECRET),
        Err(PostbackError::Malformed(_))
    ));
}

#[test]
fn postback_prices_keep_every_digit_kite_sent() {
    let mut body = payload();
    body["average_price"] = Value::from(0);
    let text = body.to_string().replace(
        r#""average_price":0"#,
        r#""average_price":96426.32999999999"#,
    );
    let postback = verify_postback(text.as_bytes(), &API_SECRET.into()).unwrap();
    assert_eq!(
        postback.order.average_price,
        Some(rust_decimal_macros::dec!(96426.32999999999))
    );
}
