//! Angel One's instrument master (`OpenAPIScripMaster.json`) parsed into an
//! [`InstrumentIndex`], loaded from a file or a URL and cached on disk for the day. Share the
//! index between every session with [`broker_core::SharedInstruments`] (`replace` it after the
//! daily refresh).
//!
//! The file is a JSON array of objects whose values are all strings: `token`, `symbol`,
//! `name`, `expiry` (`25FEB2021` or empty), `strike` and `tick_size` (both in paise, ×100),
//! `lotsize`, `instrumenttype` and `exch_seg`. Rows of segments this toolkit does not trade
//! (`NCDEX`, `NCO`, ...) are skipped; a malformed row of a known segment is an error naming
//! the row, the field and the value (the master is public data, not an account's).
//!
//! The download is capped at [`MAX_INSTRUMENT_MASTER_BYTES`] and given its own timeout
//! ([`INSTRUMENTS_DOWNLOAD_TIMEOUT`] unless set), whatever the client's own timeout says.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use broker_core::transport::{self, CallKind, MAX_INSTRUMENT_MASTER_BYTES};
use broker_core::{Exchange, HttpClient, Instrument, InstrumentIndex, InstrumentKind};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

/// Where Angel One publishes the instrument master.
pub const SCRIP_MASTER_URL: &str =
    "https://margincalculator.angelone.in/OpenAPI_File/files/OpenAPIScripMaster.json";

/// How long a download of the master may take, start to end (it is about 40 MB).
pub const INSTRUMENTS_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(180);

/// The IST time after which a cached master counts as yesterday's.
fn daily_refresh_time() -> NaiveTime {
    NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// The instrument master could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstrumentsError {
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
    fn bad(&self, row: usize, field: &'static str, value: &str) -> InstrumentsError {
        InstrumentsError::BadRow {
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
    ) -> Result<Instrument, InstrumentsError> {
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
            // At Angel One the symbol token is the exchange's own token.
            broker_token: self.token.trim().to_owned(),
            exchange_token: self.token.trim().to_owned(),
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

/// The parsed instrument master.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct InstrumentMaster {
    /// Instruments on the exchanges `broker_core` knows.
    pub index: InstrumentIndex,
    /// Rows left out because their segment is not one `broker_core` knows (such as `NCDEX`).
    pub skipped: usize,
}

/// Parses the instrument master.
///
/// # Errors
/// [`InstrumentsError::NotAnArray`] when the text is not an array of rows,
/// [`InstrumentsError::BadRow`] for the first malformed row of a known segment; nothing is
/// returned then.
pub fn parse_instruments(json: &[u8]) -> Result<InstrumentMaster, InstrumentsError> {
    let rows: Vec<ScripRow<'_>> = serde_json::from_slice(json)
        .map_err(|error| InstrumentsError::NotAnArray(error.to_string()))?;
    let mut master = InstrumentMaster::default();
    for (row_number, row) in rows.iter().enumerate() {
        match row.exch_seg.trim().parse::<Exchange>() {
            Ok(exchange) => master
                .index
                .insert(row.to_instrument(row_number, exchange)?),
            Err(_) => master.skipped += 1,
        }
    }
    tracing::debug!(
        instruments = master.index.len(),
        skipped_rows = master.skipped,
        "parsed the Angel One instrument master"
    );
    Ok(master)
}

/// Reads and parses an instrument master file.
async fn load_file(path: &Path) -> Result<InstrumentMaster, InstrumentsError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|error| io_error(path, &error))?;
    parse_instruments(&bytes)
}

/// Downloads the instrument master through `http`, giving up after `timeout` whatever the
/// client's own timeout is, and reading at most [`MAX_INSTRUMENT_MASTER_BYTES`].
///
/// # Errors
/// [`InstrumentsError::Download`] on any transport failure, a non-success status, a body
/// over the limit or the timeout.
pub async fn download_instruments(
    http: &HttpClient,
    url: &str,
    timeout: Duration,
) -> Result<Vec<u8>, InstrumentsError> {
    download_capped(http, url, timeout, MAX_INSTRUMENT_MASTER_BYTES).await
}

async fn download_capped(
    http: &HttpClient,
    url: &str,
    timeout: Duration,
    limit: usize,
) -> Result<Vec<u8>, InstrumentsError> {
    const NAME: &str = "instrument master";
    let failed = |message: String| InstrumentsError::Download {
        url: url.to_owned(),
        message,
    };
    let response = http
        .client()
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| failed(transport::no_answer(&error, CallKind::Read, NAME).to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    transport::read_body(response, limit, CallKind::Read, NAME)
        .await
        .map_err(|error| failed(error.to_string()))
}

fn io_error(path: &Path, error: &std::io::Error) -> InstrumentsError {
    InstrumentsError::Io {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

/// The instrument master cached in one file, downloaded again once a day.
#[derive(Debug, Clone)]
pub struct InstrumentCache {
    path: PathBuf,
    url: String,
    http: HttpClient,
    timeout: Duration,
}

impl InstrumentCache {
    /// A cache in `path` of the master published at `url` (normally [`SCRIP_MASTER_URL`]),
    /// downloaded through `http` within [`INSTRUMENTS_DOWNLOAD_TIMEOUT`].
    pub fn new(path: impl Into<PathBuf>, url: impl Into<String>, http: HttpClient) -> Self {
        Self {
            path: path.into(),
            url: url.into(),
            http,
            timeout: INSTRUMENTS_DOWNLOAD_TIMEOUT,
        }
    }

    /// The same cache, giving a download `timeout` instead.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a copy written at `written` is still today's at `now`: it is until the first
    /// 08:00 IST after it was written.
    pub fn is_fresh(written: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now < broker_core::ist::next(written, daily_refresh_time())
    }

    /// The index: from the cached file when it is today's, else downloaded, checked by
    /// parsing, and then written to the cache atomically. When the download fails and a
    /// stale copy exists, the stale copy is used (with a warning).
    ///
    /// # Errors
    /// A download or parse error when there is no usable copy, or [`InstrumentsError::Io`]
    /// when the cache cannot be written.
    pub async fn load(&self, now: DateTime<Utc>) -> Result<InstrumentMaster, InstrumentsError> {
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
        match download_instruments(&self.http, &self.url, self.timeout).await {
            Ok(bytes) => {
                let master = parse_instruments(&bytes)?;
                self.store(&bytes).await?;
                Ok(master)
            }
            Err(error) if written.is_some() => {
                tracing::warn!(%error, "using yesterday's cached instrument master");
                load_file(&self.path).await
            }
            Err(error) => Err(error),
        }
    }

    /// Writes next to the cache file, then renames over it: never a half-written cache.
    async fn store(&self, bytes: &[u8]) -> Result<(), InstrumentsError> {
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

    fn plain_http() -> HttpClient {
        broker_core::HttpClientConfig::default()
            .allow_plain_http()
            .build()
            .unwrap()
    }

    /// A server that answers one request with `head` and then `body`, and then keeps the
    /// connection open without sending more.
    async fn raw_server(head: String, body: Vec<u8>) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(&body).await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        address
    }

    #[tokio::test]
    async fn a_download_announcing_more_than_the_cap_is_refused_before_reading() {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
            MAX_INSTRUMENT_MASTER_BYTES + 1
        );
        let address = raw_server(head, b"[".to_vec()).await;
        let started = std::time::Instant::now();
        let error = download_instruments(
            &plain_http(),
            &format!("http://{address}/scrip.json"),
            Duration::from_secs(20),
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_streamed_download_over_the_cap_is_cut_off() {
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_owned();
        let mut body = Vec::new();
        for _ in 0..8 {
            body.extend_from_slice(b"400\r\n");
            body.extend_from_slice(&[b' '; 0x400]);
            body.extend_from_slice(b"\r\n");
        }
        let address = raw_server(head, body).await;
        let error = download_capped(
            &plain_http(),
            &format!("http://{address}/scrip.json"),
            Duration::from_secs(20),
            4096,
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("4096-byte limit"), "{error}");
    }

    #[tokio::test]
    async fn a_download_that_stalls_times_out_even_on_a_client_without_a_timeout() {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".to_owned();
        let address = raw_server(head, b"[{".to_vec()).await;
        let patient = broker_core::HttpClientConfig {
            request_timeout: Duration::from_secs(3600),
            ..broker_core::HttpClientConfig::default()
        }
        .allow_plain_http()
        .build()
        .unwrap();
        let started = std::time::Instant::now();
        let error = download_instruments(
            &patient,
            &format!("http://{address}/scrip.json"),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(error.to_string().contains("timed out"), "{error}");
    }

    #[test]
    fn sample_rows_parse_with_strike_and_tick_size_in_rupees() {
        let master = parse_instruments(SAMPLE.as_bytes()).unwrap();
        assert_eq!(master.skipped, 1);
        let index = master.index;
        let sbin = index.by_symbol(Exchange::Nse, "SBIN-EQ").unwrap();
        assert_eq!(sbin.broker_token, "3045");
        assert_eq!(sbin.exchange_token, "3045");
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
        let index_row = index.by_broker_token(Exchange::Nse, "99926000").unwrap();
        assert_eq!(index_row.kind, InstrumentKind::Index);
        assert!(index.by_symbol(Exchange::Nse, "GUARGUM5").is_none());
    }

    #[test]
    fn a_malformed_row_is_named_by_number_field_and_value() {
        let text = r#"[{"token":"1","symbol":"X-EQ","name":"X","expiry":"","strike":"-1",
            "lotsize":"one","instrumenttype":"","exch_seg":"NSE","tick_size":"5"}]"#;
        let error = parse_instruments(text.as_bytes()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("row 0") && message.contains("lotsize") && message.contains("one"),
            "{message}"
        );
        let error = parse_instruments(b"{\"not\":\"an array\"}").unwrap_err();
        assert!(matches!(error, InstrumentsError::NotAnArray(_)));
    }

    #[test]
    fn a_cached_copy_is_fresh_until_the_next_daily_refresh_time() {
        // Written 09:00 IST on 2 Dec 2026 (03:30 UTC); refresh at 08:00 IST on 3 Dec (02:30 UTC).
        let written: DateTime<Utc> = "2026-12-02T03:30:00Z".parse().unwrap();
        assert!(InstrumentCache::is_fresh(
            written,
            "2026-12-03T02:29:00Z".parse().unwrap()
        ));
        assert!(!InstrumentCache::is_fresh(
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
        let cache =
            InstrumentCache::new(&file, format!("{}/scrip.json", server.uri()), plain_http());
        let now = Utc::now();
        let first = cache.load(now).await.unwrap();
        let second = cache.load(now).await.unwrap();
        assert_eq!(first.index.len(), second.index.len());
        assert!(!file.with_extension("partial").exists());
        server.verify().await;

        // A day later, with the server gone, the stale copy still serves.
        drop(server);
        let tomorrow = now + chrono::Duration::days(1);
        let stale = cache.load(tomorrow).await.unwrap();
        assert_eq!(stale.index.len(), first.index.len());
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
        let cache = InstrumentCache::new(&file, server.uri(), plain_http());
        assert!(cache.load(Utc::now()).await.is_err());
        assert!(!file.exists());
    }
}
