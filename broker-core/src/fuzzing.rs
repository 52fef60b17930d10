//! Proptest strategies for fuzzing how broker crates decode answers: arbitrary bytes, and
//! arbitrary JSON whose objects use the broker's own field names, so that generated answers
//! reach deep into the wire types (a quantity that is a string, a price that is an object, a
//! number past `u64`, a missing `data`) instead of failing at the first brace.
//!
//! The strategies produce JSON text directly, so no JSON library is involved in making them.

use std::time::Duration;

use proptest::prelude::*;

use crate::BrokerError;

/// How many cases each decoding harness runs: a fixed number, so that the harnesses take a
/// bounded time in every test run.
pub const CASES: u32 = 512;

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                quoted.push_str(&format!("\\u{:04x}", u32::from(control)));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// Text that brokers put where numbers, dates and enums go, and text that breaks them: empty,
/// signs, exponents, numbers past `u64` and `f64`, dates, and arbitrary strings.
fn awkward_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
        Just("NaN".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("4294967295".to_owned()),
        Just("99999999999999999999999999999.99".to_owned()),
        Just("2026-11-28 09:15:00".to_owned()),
        Just("28-Nov-2026 09:15:00".to_owned()),
        any::<i64>().prop_map(|number| number.to_string()),
        any::<u32>().prop_map(|number| number.to_string()),
        any::<f64>().prop_map(|number| number.to_string()),
        "[A-Z]{1,12}",
        ".{0,24}",
    ]
}

/// A JSON scalar: null, a boolean, a number (integers of every size, fractions, exponents) or
/// a string that brokers put where numbers and dates go, or that breaks them.
pub fn json_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|value| value.to_string()),
        any::<i64>().prop_map(|number| number.to_string()),
        any::<u64>().prop_map(|number| number.to_string()),
        Just("18446744073709551616".to_owned()),
        Just("-9223372036854775809".to_owned()),
        Just("1e300".to_owned()),
        Just("-0.0".to_owned()),
        (any::<i32>(), 0u32..1_000_000).prop_map(|(whole, fraction)| format!("{whole}.{fraction}")),
        awkward_text().prop_map(|text| json_string(&text)),
    ]
}

/// A JSON value up to a few levels deep whose object keys are mostly drawn from
/// `field_names` (the broker's wire fields), sometimes arbitrary.
pub fn json_value(field_names: &'static [&'static str]) -> impl Strategy<Value = String> {
    let key = prop_oneof![
        9 => prop::sample::select(field_names).prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
    ];
    json_scalar().prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((key.clone(), inner), 0..12).prop_map(|fields| {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(key, value)| format!("{}:{value}", json_string(key)))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

/// Text a broker would plausibly send in a text field: mostly one of `words` (its enum
/// values: `"NSE"`, `"LIMIT"`, ...), sometimes a number as text.
fn plausible_text(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(words).prop_map(json_string),
        1 => (0u32..2_000).prop_map(|number| json_string(&number.to_string())),
    ]
}

/// Integers at the edges of the types quantities are kept in.
const EDGE_INTEGERS: &[u64] = &[u32::MAX as u64, i64::MAX as u64, u64::MAX];

/// A count a broker would plausibly send: a JSON number, now and then as text (which some
/// brokers send and others never do) or at the edge of an integer type (so that sums of
/// quantities overflow).
fn plausible_integer() -> impl Strategy<Value = String> {
    prop_oneof![
        100 => (0u32..2_000).prop_map(|number| number.to_string()),
        2 => (0u32..2_000).prop_map(|number| json_string(&number.to_string())),
        3 => prop::sample::select(EDGE_INTEGERS).prop_map(|number| number.to_string()),
    ]
}

/// A price or amount a broker would plausibly send, as a JSON number or as text.
fn plausible_decimal() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..2_000).prop_map(|number| number.to_string()),
        (0u32..100_000, 0u32..100).prop_map(|(whole, cents)| format!("{whole}.{cents:02}")),
        (0u32..100_000, 0u32..100)
            .prop_map(|(whole, cents)| json_string(&format!("{whole}.{cents:02}"))),
    ]
}

/// The fields of a broker's records, by the kind of value each holds.
#[derive(Debug, Clone, Copy)]
pub struct RecordFields {
    /// Text fields (enum values, symbols, ids, timestamps).
    pub text: &'static [&'static str],
    /// Whole-number fields (quantities, tokens).
    pub integer: &'static [&'static str],
    /// Decimal fields (prices, amounts).
    pub decimal: &'static [&'static str],
    /// Values for text fields: the broker's enum values, symbols and date shapes; also the
    /// keys of keyed answers (see [`json_data`]).
    pub words: &'static [&'static str],
}

/// A JSON object with almost every one of `fields`, each with a plausible value of its kind
/// and now and then an awkward one ([`json_scalar`]): shaped so that the broker's wire types
/// often decode it, and their mapping into domain types runs on odd values.
pub fn json_record(fields: RecordFields) -> impl Strategy<Value = String> {
    let field = |plausible: BoxedStrategy<String>| {
        (
            prop::bool::weighted(0.99),
            prop_oneof![150 => plausible, 1 => json_scalar()],
        )
    };
    let texts = prop::collection::vec(
        field(plausible_text(fields.words).boxed()),
        fields.text.len(),
    );
    let integers = prop::collection::vec(field(plausible_integer().boxed()), fields.integer.len());
    let decimals = prop::collection::vec(field(plausible_decimal().boxed()), fields.decimal.len());
    (texts, integers, decimals).prop_map(move |(texts, integers, decimals)| {
        let members: Vec<String> = fields
            .text
            .iter()
            .zip(texts)
            .chain(fields.integer.iter().zip(integers))
            .chain(fields.decimal.iter().zip(decimals))
            .filter(|(_, (present, _))| *present)
            .map(|(name, (_, value))| format!("{}:{value}", json_string(name)))
            .collect();
        format!("{{{}}}", members.join(","))
    })
}

/// The `data` of an answer: a [`json_record`], a list of them, an object of them or of lists
/// of them under keys drawn from `words` (Kite's `{"net": [...], "day": [...]}` positions and
/// its quote maps, Angel One's `{"fetched": [...]}`), or any [`json_value`].
pub fn json_data(fields: RecordFields) -> impl Strategy<Value = String> {
    let record = move || json_record(fields);
    let list = move || {
        prop::collection::vec(record(), 0..3).prop_map(|records| format!("[{}]", records.join(",")))
    };
    let keyed = |values: BoxedStrategy<String>| {
        prop::collection::vec((prop::sample::select(fields.words), values), 1..3).prop_map(
            |pairs| {
                let fields: Vec<String> = pairs
                    .iter()
                    .map(|(key, value)| format!("{}:{value}", json_string(key)))
                    .collect();
                format!("{{{}}}", fields.join(","))
            },
        )
    };
    prop_oneof![
        2 => record(),
        2 => list(),
        1 => keyed(record().boxed()),
        1 => keyed(list().boxed()),
        1 => json_value(fields.text),
    ]
}

/// An answer body: arbitrary bytes, arbitrary JSON, or `envelope` (the broker's envelope
/// around arbitrary data), the last most often.
pub fn answer_body(
    field_names: &'static [&'static str],
    envelope: impl Strategy<Value = String> + 'static,
) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => json_value(field_names).prop_map(String::into_bytes),
        4 => envelope.prop_map(String::into_bytes),
    ]
}

/// One generated answer: its status, its `Retry-After` and its body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Retry-After` header's value, when sent.
    pub retry_after: Option<Duration>,
    /// The body.
    pub body: Vec<u8>,
}

/// An [`Answer`] with an [`http_status`], sometimes a `Retry-After`, and an [`answer_body`].
pub fn answer(
    field_names: &'static [&'static str],
    envelope: impl Strategy<Value = String> + 'static,
) -> impl Strategy<Value = Answer> {
    (
        http_status(),
        proptest::option::of((0u64..100_000).prop_map(Duration::from_secs)),
        answer_body(field_names, envelope),
    )
        .prop_map(|(status, retry_after, body)| Answer {
            status,
            retry_after,
            body,
        })
}

/// Checks that an error a decoding produced can be shown and classified without panicking.
///
/// # Panics
/// When the error's message is empty.
pub fn check_error(error: &BrokerError) {
    assert!(!error.to_string().is_empty(), "{error:?} has no message");
    let _ = error.placement_outcome();
}

/// Checks the result of a mapping: an error must pass [`check_error`].
pub fn check_mapped<T>(result: Result<T, BrokerError>) {
    if let Err(error) = result {
        check_error(&error);
    }
}

/// An HTTP status: mostly the ones brokers send, sometimes any.
pub fn http_status() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => Just(200u16),
        1 => prop::sample::select(&[201u16, 204, 302, 400, 401, 403, 404, 429, 500, 502, 503][..]),
        1 => 100u16..600,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
    }

    #[test]
    fn generated_values_and_envelopes_are_json() {
        let mut runner = TestRunner::deterministic();
        let mut objects = 0;
        for _ in 0..200 {
            let text = json_value(&["quantity", "price"])
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let parsed: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|error| panic!("{text}: {error}"));
            objects += usize::from(parsed.is_object());
        }
        assert!(objects > 0, "some values are objects");
        for _ in 0..50 {
            let text = json_record(RecordFields {
                text: &["exchange"],
                integer: &["quantity"],
                decimal: &["price"],
                words: &["NSE"],
            })
            .new_tree(&mut runner)
            .unwrap()
            .current();
            let parsed: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert!(parsed.is_object(), "{text}");
        }
    }
}
