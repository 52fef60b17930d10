//! Angel One's instrument master (`OpenAPIScripMaster.json`) parsed into an
//! [`InstrumentIndex`], loaded from a file or a URL and cached on disk for the day.
//!
//! The file is a JSON array of objects whose values are all strings: `token`, `symbol`,
//! `name`, `expiry` (`25FEB2021` or empty), `strike` and `tick_size` (both in paise, ×100),
//! `lotsize`, `instrumenttype` and `exch_seg`. Rows of segments this toolkit does not trade
//! (`NCDEX`, `NCO`, ...) are skipped; a malformed row of a known segment is an error naming
//! the row and field.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use broker_core::{Exchange, Instrument, InstrumentIndex, InstrumentKind};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

/// Where Angel One publishes the instrument master.
pub const SCRIP_MASTER_URL: &str =
    "https://margincalculator.angelone.in/OpenAPI_File/files/OpenAPIScripMaster.json";

/// The IST time after which a cached master counts as yesterday's.
pub fn daily_refresh_time() -> NaiveTime {
    NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// The instrument master could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScripMasterError {
    /// The text is not a JSON array of string-valued rows.
    #[error("the instrument master is not a JSON array of rows: {0}")]
    NotAnArray(String),
    /// A row of a known segment has an invalid value.
    #[error("instrument master row {row} ({symbol}): {field} {value:?} is not valid")]
    BadRow {
        /// Zero-based row number.
        row: usize,
        /// The row's trading symbol.
        symbol: String,
        /// The field.
        field: &'static str,
        /// The value found.
        value: String,
    },
    /// The file could not be read or written.
    #[error("instrument master file {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The download failed.
    #[error("downloading the instrument master from {url} failed: {message}")]
    Download {
        /// Where from.
        url: String,
        /// What went wrong.
        message: String,
    },
}

#[derive(Deserialize)]
struct ScripRow<'a> {
    #[serde(borrow)]
    token: Cow<'a, str>,
    #[serde(borrow)]
    symbol: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    expiry: Cow<'a, str>,
    #[serde(borrow, default)]
    strike: Cow<'a, str>,
    #[serde(borrow)]
    lotsize: Cow<'a, str>,
    #[serde(borrow, default)]
    instrumenttype: Cow<'a, str>,
    #[serde(borrow)]
    exch_seg: Cow<'a, str>,
    #[serde(borrow)]
    tick_size: Cow<'a, str>,
}

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

impl ScripRow<'_> {
    fn bad(&self, row: usize, field: &'static str, value: &str) -> ScripMasterError {
        ScripMasterError::BadRow {
            row,
            symbol: self.symbol.clone().into_owned(),
            field,
            value: value.to_owned(),
        }
    }

    fn to_instrument(
        &self,
        row: usize,
        exchange: Exchange,
    ) -> Result<Instrument, ScripMasterError> {
        let lot_size = self
            .lotsize
            .trim()
            .parse::<u32>()
            .map_err(|_| self.bad(row, "lotsize", &self.lotsize))?;
        let tick_paise = self
            .tick_size
            .trim()
            .parse::<Decimal>()
            .map_err(|_| self.bad(row, "tick_size", &self.tick_size))?;
        let strike = match self.strike.trim() {
            "" => None,
            text => {
                let paise = text
                    .parse::<Decimal>()
                    .map_err(|_| self.bad(row, "strike", &self.strike))?;
                (paise > Decimal::ZERO).then(|| (paise / HUNDRED).normalize())
            }
        };
        let expiry = match self.expiry.trim() {
            "" => None,
            text => Some(
                NaiveDate::parse_from_str(text, "%d%b%Y")
                    .map_err(|_| self.bad(row, "expiry", &self.expiry))?,
            ),
        };
        Ok(Instrument {
            exchange,
            trading_symbol: self.symbol.trim().to_owned(),
            token: self.token.trim().to_owned(),
            name: self.name.trim().to_owned(),
            kind: self.kind(),
            lot_size,
            tick_size: (tick_paise / HUNDRED).normalize(),
            expiry,
            strike,
        })
    }

    fn kind(&self) -> InstrumentKind {
        let instrument_type = self.instrumenttype.trim();
        match instrument_type {
            "AMXIDX" | "INDEX" => InstrumentKind::Index,
            "FUTIDX" | "FUTSTK" | "FUTCOM" | "FUTCUR" | "FUTIRC" | "FUTIRT" => {
                InstrumentKind::Future
            }
            "OPTIDX" | "OPTSTK" | "OPTFUT" | "OPTCUR" | "OPTCOM" | "OPTIRC" => {
                if self.symbol.ends_with("PE") {
                    InstrumentKind::PutOption
                } else {
                    InstrumentKind::CallOption
                }
            }
            "" if self.token.starts_with("999") => InstrumentKind::Index,
            "" => InstrumentKind::Equity,
            other => InstrumentKind::Other(other.to_owned()),
        }
    }
}

/// Parses the instrument master.
///
/// # Errors
/// [`ScripMasterError::NotAnArray`] when the text is not an array of rows,
/// [`ScripMasterError::BadRow`] for the first malformed row of a known segment.
pub fn parse(json: &[u8]) -> Result<InstrumentIndex, ScripMasterError> {
    let rows: Vec<ScripRow<'_>> = serde_json::from_slice(json)
        .map_err(|error| ScripMasterError::NotAnArray(error.to_string()))?;
    let mut index = InstrumentIndex::new();
    let mut skipped = 0usize;
    for (row_number, row) in rows.iter().enumerate() {
        match row.exch_seg.trim().parse::<Exchange>() {
            Ok(exchange) => index.insert(row.to_instrument(row_number, exchange)?),
            Err(_) => skipped += 1,
        }
    }
    tracing::debug!(
        instruments = index.len(),
        skipped_rows = skipped,
        "parsed the Angel One instrument master"
    );
    Ok(index)
}

/// Reads and parses an instrument master file.
///
/// # Errors
/// [`ScripMasterError::Io`] when it cannot be read, or a parse error.
pub async fn load_file(path: &Path) -> Result<InstrumentIndex, ScripMasterError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|error| io_error(path, &error))?;
    parse(&bytes)
}

/// Downloads the instrument master.
///
/// # Errors
/// [`ScripMasterError::Download`] on any transport failure or non-success status.
pub async fn download(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, ScripMasterError> {
    let failed = |message: String| ScripMasterError::Download {
        url: url.to_owned(),
        message,
    };
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|error| failed(error.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|error| failed(error.to_string()))?;
    Ok(bytes.to_vec())
}

/// Downloads and parses the instrument master (without caching it).
///
/// # Errors
/// A download or parse error.
pub async fn load_url(
    http: &reqwest::Client,
    url: &str,
) -> Result<InstrumentIndex, ScripMasterError> {
    parse(&download(http, url).await?)
}

fn io_error(path: &Path, error: &std::io::Error) -> ScripMasterError {
    ScripMasterError::Io {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

/// The instrument master cached in one file, downloaded again once a day.
#[derive(Debug, Clone)]
pub struct ScripMasterCache {
    path: PathBuf,
    url: String,
    http: reqwest::Client,
}

impl ScripMasterCache {
    /// A cache in `path` of the master published at `url` (normally [`SCRIP_MASTER_URL`]).
    pub fn new(path: impl Into<PathBuf>, url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            path: path.into(),
            url: url.into(),
            http,
        }
    }

    /// Whether a copy written at `written` is still today's at `now`: it is until the first
    /// [`daily_refresh_time`] (IST) after it was written.
    pub fn is_fresh(written: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now < broker_core::session::next_ist_time(written, daily_refresh_time())
    }

    /// The index: from the cached file when it is today's, else downloaded, checked by
    /// parsing, and then written to the cache atomically. When the download fails and a
    /// stale copy exists, the stale copy is used (with a warning).
    ///
    /// # Errors
    /// A download or parse error when there is no usable copy, or [`ScripMasterError::Io`]
    /// when the cache cannot be written.
    pub async fn load(&self, now: DateTime<Utc>) -> Result<InstrumentIndex, ScripMasterError> {
        let written = tokio::fs::metadata(&self.path)
            .await
            .and_then(|metadata| metadata.modified())
            .ok()
            .map(DateTime::<Utc>::from);
        if let Some(written) = written
            && Self::is_fresh(written, now)
        {
            return load_file(&self.path).await;
        }
        match download(&self.http, &self.url).await {
            Ok(bytes) => {
                let index = parse(&bytes)?;
                self.store(&bytes).await?;
                Ok(index)
            }
            Err(error) if written.is_some() => {
                tracing::warn!(%error, "using yesterday's cached instrument master");
                load_file(&self.path).await
            }
            Err(error) => Err(error),
        }
    }

    /// Writes next to the cache file, then renames over it: never a half-written cache.
    async fn store(&self, bytes: &[u8]) -> Result<(), ScripMasterError> {
        if let Some(parent) = self
            .path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|error| io_error(parent, &error))?;
        }
        let partial = self.path.with_extension("partial");
        tokio::fs::write(&partial, bytes)
            .await
            .map_err(|error| io_error(&partial, &error))?;
        tokio::fs::rename(&partial, &self.path)
            .await
            .map_err(|error| io_error(&self.path, &error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const SAMPLE: &str = include_str!("../test_data/scrip_master_sample.json");

    #[test]
    fn sample_rows_parse_with_strike_and_tick_size_in_rupees() {
        let index = parse(SAMPLE.as_bytes()).unwrap();
        let sbin = index.by_symbol(Exchange::Nse, "SBIN-EQ").unwrap();
        assert_eq!(sbin.token, "3045");
        assert_eq!(sbin.tick_size, dec!(0.05));
        assert_eq!(sbin.kind, InstrumentKind::Equity);
        assert_eq!(sbin.strike, None);
        let option = index
            .by_symbol(Exchange::Nfo, "NIFTY25FEB2117500CE")
            .unwrap();
        assert_eq!(option.strike, Some(dec!(17500)));
        assert_eq!(option.expiry, NaiveDate::from_ymd_opt(2021, 2, 25));
        assert_eq!(option.lot_size, 75);
        assert_eq!(option.kind, InstrumentKind::CallOption);
        let index_row = index.by_token(Exchange::Nse, "99926000").unwrap();
        assert_eq!(index_row.kind, InstrumentKind::Index);
        assert!(index.by_symbol(Exchange::Nse, "GUARGUM5").is_none());
    }

    #[test]
    fn a_malformed_row_is_named_by_number_field_and_value() {
        let text = r#"[{"token":"1","symbol":"X-EQ","name":"X","expiry":"","strike":"-1",
            "lotsize":"one","instrumenttype":"","exch_seg":"NSE","tick_size":"5"}]"#;
        let error = parse(text.as_bytes()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("row 0") && message.contains("lotsize") && message.contains("one"),
            "{message}"
        );
        let error = parse(b"{\"not\":\"an array\"}").unwrap_err();
        assert!(matches!(error, ScripMasterError::NotAnArray(_)));
    }

    #[test]
    fn a_cached_copy_is_fresh_until_the_next_daily_refresh_time() {
        // Written 09:00 IST on 2 Dec 2026 (03:30 UTC); refresh at 08:00 IST on 3 Dec (02:30 UTC).
        let written: DateTime<Utc> = "2026-12-02T03:30:00Z".parse().unwrap();
        assert!(ScripMasterCache::is_fresh(
            written,
            "2026-12-03T02:29:00Z".parse().unwrap()
        ));
        assert!(!ScripMasterCache::is_fresh(
            written,
            "2026-12-03T02:30:00Z".parse().unwrap()
        ));
    }

    #[tokio::test]
    async fn load_downloads_once_then_serves_the_cache_and_falls_back_when_offline() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/scrip.json"))
            .respond_with(ResponseTemplate::new(200).set_body_string(SAMPLE))
            .expect(1)
            .mount(&server)
            .await;
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("cache/scrip.json");
        let cache = ScripMasterCache::new(
            &file,
            format!("{}/scrip.json", server.uri()),
            reqwest::Client::new(),
        );
        let now = Utc::now();
        let first = cache.load(now).await.unwrap();
        let second = cache.load(now).await.unwrap();
        assert_eq!(first.len(), second.len());
        assert!(!file.with_extension("partial").exists());
        server.verify().await;

        // A day later, with the server gone, the stale copy still serves.
        drop(server);
        let tomorrow = now + chrono::Duration::days(1);
        let stale = cache.load(tomorrow).await.unwrap();
        assert_eq!(stale.len(), first.len());
    }

    #[tokio::test]
    async fn a_bad_download_is_not_cached() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
            .mount(&server)
            .await;
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("scrip.json");
        let cache = ScripMasterCache::new(&file, server.uri(), reqwest::Client::new());
        assert!(cache.load(Utc::now()).await.is_err());
        assert!(!file.exists());
    }
}
