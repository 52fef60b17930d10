//! A JSON body extractor whose every refusal is a 400 naming the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but malformed JSON, unknown fields, missing fields and bad values all
/// answer 400 with the JSON path of the field (via `serde_path_to_error`), and an oversized
/// body answers 413. Messages never quote the value (it may be a secret).
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        "the request body is larger than this server accepts",
                    )
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "unreadable_body",
                        rejection.body_text(),
                    )
                }
            })?;
        parse(&body).map(ValidJson)
    }
}

/// Like `axum::extract::Query`, but a refusal is a JSON 400 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ValidQuery)
            .map_err(|error| {
                let field = error.path().to_string();
                let message = error.inner().to_string();
                let message = if message.starts_with("unknown field")
                    || message.starts_with("missing field")
                {
                    message
                } else {
                    "wrong type or value".to_owned()
                };
                ApiError::invalid_field(if field == "." { String::new() } else { field }, message)
            })
    }
}

/// Deserializes a body, naming the field at fault on failure.
///
/// # Errors
/// [`ApiError::invalid_field`].
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let field = if field == "." { String::new() } else { field };
        ApiError::invalid_field(field, describe(error.inner()))
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::invalid_field("", describe(&error)))?;
    Ok(value)
}

/// serde_json's message without any quoted input: type errors quote the value they saw
/// (`invalid type: string "1234", expected ...`), and that value may be an MPIN.
fn describe(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!(
            "the body is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        ),
        Category::Data => {
            let message = error.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned();
            if message.starts_with("unknown field")
                || message.starts_with("missing field")
                || message.starts_with("unknown variant")
            {
                message
            } else if let Some((_, expected)) = message.split_once(", expected ") {
                format!("wrong type or value, expected {expected}")
            } else {
                "wrong type or value".to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        mpin: String,
        flag: bool,
    }

    fn refusal(body: &str) -> (String, String) {
        let error = parse::<Outer>(body.as_bytes()).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        let detail = error.detail();
        (
            detail.field.clone().unwrap_or_default(),
            detail.message.clone(),
        )
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let (field, message) = refusal(r#"{"inner": {"mpin": "1", "flag": true, "pin": 2}}"#);
        assert_eq!(field, "inner.pin");
        assert!(message.starts_with("unknown field `pin`"), "{message}");
    }

    #[test]
    fn a_wrong_type_names_the_field_but_never_quotes_the_value() {
        let (field, message) = refusal(r#"{"inner": {"mpin": "4831", "flag": "4831"}}"#);
        assert_eq!(field, "inner.flag");
        assert!(!message.contains("4831"), "{message}");
        assert!(message.contains("expected a boolean"), "{message}");
    }

    #[test]
    fn missing_fields_and_broken_json_are_refused() {
        let (field, message) = refusal(r#"{"inner": {"flag": true}}"#);
        assert_eq!(field, "inner");
        assert!(message.contains("missing field `mpin`"), "{message}");
        let (_, message) = refusal(r#"{"inner": "#);
        assert!(message.contains("not valid JSON"), "{message}");
        let (_, message) = refusal(r#"{"inner": {"mpin": "1", "flag": true}} trailing"#);
        assert!(message.contains("not valid JSON"), "{message}");
    }
}
