//! Order intents: what each account should place at a slot, from a pluggable source.
//!
//! An intent's order is kept as the data it came as and checked when the run reaches it, so one
//! bad intent is reported (journalled `refused`, with why) instead of failing every tenant's
//! load. Sources: [`FileIntents`] (JSON or TOML), [`FnIntents`] (a Rust closure) and
//! [`crate::postgres::PostgresIntents`] (the `order_intents` table).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use broker_core::{OrderRequest, OrderTag};
use serde::{Deserialize, Serialize};
use vault::{AccountId, UserId};

use crate::slots::Slot;

/// The longest intent id accepted (it is hashed into the tag, so length costs nothing there).
pub const MAX_INTENT_ID_LEN: usize = 128;

/// One order an account places at a slot on every trading day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderIntent {
    /// A stable id, unique across intents: with the run it decides the order's tag.
    pub id: String,
    /// The user who owns the account.
    pub user_id: UserId,
    /// The account that places the order.
    pub account_id: AccountId,
    /// The slot it is placed at.
    #[serde(default)]
    pub slot: Slot,
    /// The order, in [`OrderRequest`]'s serde form (checked when the run reaches it).
    pub order: OrderData,
    /// Whether it is placed at all.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// An intent's order as the JSON it came as, not yet checked: one compact text. A parsed
/// `serde_json::Value` took about 1.8 KB an order in a dozen allocations, and a run holds every
/// tenant's intents at once (18 MB of a worker's memory at ten thousand accounts).
///
/// Serialized and deserialized as the JSON value itself (in JSON, TOML or any serde format).
#[derive(Clone, PartialEq, Eq)]
pub struct OrderData(Box<str>);

impl OrderData {
    /// The order from JSON text, kept compact with its keys in order (so that two orders
    /// with the same fields are equal however they were written).
    ///
    /// # Errors
    /// When `json` is not one JSON value.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde_json::Value>(json).map(Self::from)
    }

    /// The JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The order as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or_else(|_| unreachable!("checked when built"))
    }
}

impl From<serde_json::Value> for OrderData {
    fn from(value: serde_json::Value) -> Self {
        Self(value.to_string().into_boxed_str())
    }
}

impl std::fmt::Debug for OrderData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for OrderData {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for OrderData {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Self::from)
    }
}

impl OrderIntent {
    /// The request to send: the intent's order, checked, carrying `tag`.
    ///
    /// # Errors
    /// [`IntentError::BadOrder`] naming what is missing or invalid.
    pub fn request(&self, tag: &OrderTag) -> Result<OrderRequest, IntentError> {
        let bad = |message: String| IntentError::BadOrder {
            intent: self.id.clone(),
            message,
        };
        let request: OrderRequest =
            serde_json::from_str(self.order.as_json()).map_err(|error| bad(error.to_string()))?;
        if request.tag().is_some() {
            return Err(bad(
                "the order carries its own tag; the worker derives tags from the run and the intent"
                    .into(),
            ));
        }
        request
            .to_builder()
            .tag(tag.as_str())
            .build()
            .map_err(|error| bad(error.to_string()))
    }

    /// Checks what every source must guarantee: a usable id.
    ///
    /// # Errors
    /// [`IntentError::BadId`].
    pub fn check_id(&self) -> Result<(), IntentError> {
        if self.id.trim().is_empty() || self.id.len() > MAX_INTENT_ID_LEN {
            return Err(IntentError::BadId {
                id: self.id.clone(),
            });
        }
        Ok(())
    }
}

/// Why intents could not be loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntentError {
    /// The intents file could not be read.
    #[error("cannot read intents from {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The intents file is not valid JSON/TOML of the expected shape.
    #[error("intents file {path} is malformed: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file's extension names no supported format.
    #[error("intents file {path}: expected a .json or .toml file")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// An intent id is empty or too long.
    #[error("intent id {id:?} must be 1 to 128 characters")]
    BadId {
        /// The id.
        id: String,
    },
    /// Two intents share an id.
    #[error("two intents have the id {id:?}")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// An intent's order is missing a field or is invalid.
    #[error("intent {intent}: {message}")]
    BadOrder {
        /// The intent id.
        intent: String,
        /// What is wrong.
        message: String,
    },
    /// The database failed.
    #[error("intents database: {0}")]
    Database(#[from] sqlx::Error),
    /// A source of the caller's own failed.
    #[error("intents source: {0}")]
    Source(String),
}

/// Where intents come from.
#[async_trait]
pub trait IntentSource: Send + Sync {
    /// The enabled intents of a slot.
    ///
    /// # Errors
    /// [`IntentError`] when the source cannot be read.
    async fn intents(&self, slot: Slot) -> Result<Vec<OrderIntent>, IntentError>;
}

/// Checks ids and uniqueness, and keeps the enabled intents of `slot`.
pub(crate) fn select(
    intents: Vec<OrderIntent>,
    slot: Slot,
) -> Result<Vec<OrderIntent>, IntentError> {
    let mut seen = std::collections::HashSet::new();
    for intent in &intents {
        intent.check_id()?;
        if !seen.insert(intent.id.as_str()) {
            return Err(IntentError::DuplicateId {
                id: intent.id.clone(),
            });
        }
    }
    Ok(intents
        .into_iter()
        .filter(|intent| intent.enabled && intent.slot == slot)
        .collect())
}

/// Intents in a JSON or TOML file (`[[intents]]` tables / `{"intents": [...]}`), read anew at
/// every run so that edits apply to the next slot.
#[derive(Debug, Clone)]
pub struct FileIntents {
    path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentsFile {
    #[serde(default)]
    intents: Vec<OrderIntent>,
}

impl FileIntents {
    /// Intents from this file; the extension (`.json`, `.toml`) names the format.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Reads and checks every intent in the file.
    ///
    /// # Errors
    /// [`IntentError::Read`], [`IntentError::Malformed`], [`IntentError::UnknownFormat`],
    /// [`IntentError::BadId`], [`IntentError::DuplicateId`].
    pub fn load(&self) -> Result<Vec<OrderIntent>, IntentError> {
        let path = self.path.as_path();
        let text = std::fs::read_to_string(path).map_err(|source| IntentError::Read {
            path: path.to_owned(),
            source,
        })?;
        let malformed = |message: String| IntentError::Malformed {
            path: path.to_owned(),
            message,
        };
        let file: IntentsFile = match extension(path) {
            Some("json") => serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?,
            Some("toml") => toml::from_str(&text).map_err(|e| malformed(e.to_string()))?,
            _ => {
                return Err(IntentError::UnknownFormat {
                    path: path.to_owned(),
                });
            }
        };
        for intent in &file.intents {
            intent.check_id()?;
        }
        Ok(file.intents)
    }
}

fn extension(path: &Path) -> Option<&str> {
    path.extension().and_then(|extension| extension.to_str())
}

#[async_trait]
impl IntentSource for FileIntents {
    async fn intents(&self, slot: Slot) -> Result<Vec<OrderIntent>, IntentError> {
        select(self.load()?, slot)
    }
}

/// The closure a [`FnIntents`] calls.
pub type IntentFn = dyn Fn(Slot) -> Result<Vec<OrderIntent>, IntentError> + Send + Sync;

/// Intents from a Rust closure (the server's own store, a strategy engine, tests).
#[derive(Clone)]
pub struct FnIntents(Arc<IntentFn>);

impl FnIntents {
    /// Intents from `produce`, called at every run.
    pub fn new(
        produce: impl Fn(Slot) -> Result<Vec<OrderIntent>, IntentError> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(produce))
    }
}

impl std::fmt::Debug for FnIntents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnIntents(..)")
    }
}

#[async_trait]
impl IntentSource for FnIntents {
    async fn intents(&self, slot: Slot) -> Result<Vec<OrderIntent>, IntentError> {
        select((self.0)(slot)?, slot)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn intent(id: &str, order: serde_json::Value) -> OrderIntent {
        OrderIntent {
            id: id.into(),
            user_id: UserId::new_random(),
            account_id: AccountId::new_random(),
            slot: Slot::DEFAULT,
            order: order.into(),
            enabled: true,
        }
    }

    fn limit_buy() -> serde_json::Value {
        json!({
            "instrument": {"exchange": "NSE", "trading_symbol": "SBIN-EQ"},
            "side": "buy", "order_type": "limit", "product": "delivery",
            "quantity": 1, "price": "800.05"
        })
    }

    #[test]
    fn an_intent_becomes_a_checked_request_with_the_derived_tag() {
        let tag = OrderTag::derive("2026-12-01/15:10", "i1");
        let request = intent("i1", limit_buy()).request(&tag).unwrap();
        assert_eq!(request.tag(), Some(&tag));
        assert_eq!(request.quantity(), 1);
    }

    #[test]
    fn missing_fields_and_own_tags_are_named_errors() {
        let tag = OrderTag::derive("run", "i");
        let mut order = limit_buy();
        order.as_object_mut().unwrap().remove("quantity");
        let error = intent("i", order).request(&tag).unwrap_err();
        assert!(error.to_string().contains("quantity"), "{error}");

        let mut tagged = limit_buy();
        tagged["tag"] = json!("mine");
        let error = intent("i", tagged).request(&tag).unwrap_err();
        assert!(error.to_string().contains("derives tags"), "{error}");
    }

    #[tokio::test]
    async fn json_and_toml_files_give_the_same_intents_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let user = UserId::new_random();
        let account = AccountId::new_random();
        let json_path = dir.path().join("intents.json");
        std::fs::write(
            &json_path,
            json!({"intents": [
                {"id": "a", "user_id": user, "account_id": account, "order": limit_buy()},
                {"id": "b", "user_id": user, "account_id": account, "order": limit_buy(), "enabled": false},
                {"id": "c", "user_id": user, "account_id": account, "slot": "09:20", "order": limit_buy()}
            ]})
            .to_string(),
        )
        .unwrap();
        let toml_path = dir.path().join("intents.toml");
        std::fs::write(
            &toml_path,
            format!(
                "[[intents]]\nid = \"a\"\nuser_id = \"{user}\"\naccount_id = \"{account}\"\n\
                 [intents.order]\nside = \"buy\"\norder_type = \"limit\"\nproduct = \"delivery\"\n\
                 quantity = 1\nprice = \"800.05\"\n\
                 [intents.order.instrument]\nexchange = \"NSE\"\ntrading_symbol = \"SBIN-EQ\"\n"
            ),
        )
        .unwrap();
        let from_json = FileIntents::new(&json_path)
            .intents(Slot::DEFAULT)
            .await
            .unwrap();
        let from_toml = FileIntents::new(&toml_path)
            .intents(Slot::DEFAULT)
            .await
            .unwrap();
        assert_eq!(
            from_json.len(),
            1,
            "disabled and other-slot intents are left out"
        );
        assert_eq!(from_json, from_toml);

        let other = dir.path().join("intents.yaml");
        std::fs::write(&other, "").unwrap();
        assert!(matches!(
            FileIntents::new(&other).load(),
            Err(IntentError::UnknownFormat { .. })
        ));
        std::fs::write(&json_path, "{\"intents\": [{\"id\": \"x\"}]}").unwrap();
        assert!(matches!(
            FileIntents::new(&json_path).load(),
            Err(IntentError::Malformed { .. })
        ));
    }

    #[tokio::test]
    async fn a_closure_source_is_checked_for_duplicate_and_empty_ids() {
        let source =
            FnIntents::new(|_| Ok(vec![intent("d", limit_buy()), intent("d", limit_buy())]));
        assert!(matches!(
            source.intents(Slot::DEFAULT).await,
            Err(IntentError::DuplicateId { .. })
        ));
        let source = FnIntents::new(|_| Ok(vec![intent(" ", limit_buy())]));
        assert!(matches!(
            source.intents(Slot::DEFAULT).await,
            Err(IntentError::BadId { .. })
        ));
    }
}
