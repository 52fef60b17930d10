//! The HTTP/1.1 client of API calls ([`crate::HttpClient::send`]): one request per exchange on
//! a pooled keep-alive connection, driven in the calling task.
//!
//! Why not hyper-util's pooled client: it runs each connection in a task of its own and hands
//! requests and answers over a channel, and its pool checkout and return were about 12,500
//! instructions of an order's 52,000 (docs/performance.md). Here a request takes an idle
//! connection (or opens one), writes its head and body with one write, reads and parses the
//! answer in the same task (`httparse`), and puts the connection back when the answer was read
//! to its end.
//!
//! Over https the TLS session is rustls's unbuffered API, its byte buffers ours: like the
//! answer buffer they exist for a handshake or an exchange and are wiped and let go when the
//! connection goes idle (rustls's buffered connection keeps at least 4 KB for each; the worker
//! keeps ten thousand idle connections open ahead of a slot).
//!
//! The rules, each kept from the client it replaces:
//! - nothing is ever sent twice: no request is retried once any of its bytes was written, and
//!   an idle connection is checked before it is used (a connection the server closed while
//!   idle is dropped for another, instead of turning an order into an unknown outcome);
//! - the egress address is bound before connecting, with a connect timeout, TCP keep-alive
//!   probes and no Nagle delay; https only unless plain http is allowed;
//! - redirects are answers like any other (never followed);
//! - answers are parsed strictly: a head over [`MAX_HEAD_BYTES`], both `Content-Length` and
//!   `Transfer-Encoding`, a malformed or repeated `Content-Length`, a transfer coding other than
//!   `chunked`, a malformed chunk: all refused; the body is capped at the caller's limit;
//! - a connection is reused only after an HTTP/1.1 answer read to its end, without
//!   `Connection: close`, and for at most the idle timeout.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::header::{CONTENT_LENGTH, HOST, HeaderMap, HeaderValue, TRANSFER_ENCODING, USER_AGENT};
use hyper::{Method, Uri};
use rustls::ClientConfig;
use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::ServerName;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use zeroize::{Zeroize, Zeroizing};

use crate::ApiRequest;

/// The largest answer head (status line and headers) read; hyper's default cap is larger, but
/// a broker's answer head is a few hundred bytes.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most headers an answer head may carry.
const MAX_HEADERS: usize = 100;

/// The longest chunk-size line or trailer section of a chunked body.
const MAX_CHUNK_LINE_BYTES: usize = 4096;

/// How much is read from the socket at a time.
const READ_SIZE: usize = 8 * 1024;

/// The most TLS bytes an idle connection may have received unasked: session tickets and key
/// updates are a few hundred bytes.
const MAX_IDLE_TLS_BYTES: usize = 64 * 1024;

/// Why an exchange failed, and whether any byte of the request had left.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Nothing of the request was written: no connection, a refused scheme, a failed
    /// handshake.
    NotSent(ExchangeError),
    /// The request was (at least partly) written, and no complete answer came back.
    Lost(ExchangeError),
    /// The answer's body is over the limit.
    TooLarge {
        /// The answer's status.
        status: u16,
    },
}

/// What went wrong in an exchange (never quotes the URL, the request or the answer).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    /// The URI has no scheme, host or supported scheme.
    #[error("{0}")]
    Refused(&'static str),
    /// The connection could not be opened (or its TLS handshake failed).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The answer is not valid HTTP/1.x.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// The connection closed before the whole answer was read.
    #[error("the connection closed before the whole answer was read")]
    Closed,
}

/// An [`ExchangeError`] as the source of an error, so that
/// [`crate::transport`]'s messages (which name only an error's innermost cause) carry it.
#[derive(Debug, thiserror::Error)]
#[error("the exchange failed")]
pub(crate) struct Cause(#[source] pub(crate) ExchangeError);

/// How connections are opened.
pub(crate) struct Connector {
    /// The address every connection binds before connecting, when set.
    pub(crate) local: Option<IpAddr>,
    /// How long a TCP connect may take.
    pub(crate) connect_timeout: Duration,
    /// Whether plain `http://` is allowed (simulators).
    pub(crate) allow_plain_http: bool,
    /// The TLS configuration.
    pub(crate) tls: Arc<ClientConfig>,
    /// The TCP keep-alive probes' idle time.
    pub(crate) keepalive: Duration,
}

/// Where a connection goes: scheme, host (as in the URI, brackets included for IPv6) and port;
/// borrowed from a request's URI, owned by a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin<H = String> {
    tls: bool,
    host: H,
    port: u16,
}

impl Origin {
    fn is(&self, other: &Origin<&str>) -> bool {
        self.tls == other.tls && self.port == other.port && self.host == other.host
    }
}

/// An open connection's byte stream.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Stream {
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Self::Plain(tcp) => tcp.write_all(bytes).await,
            Self::Tls(tls) => tls.write_all(bytes).await,
        }
    }

    /// Reads more of the answer onto the end of `buffer`: how much, 0 at the end of the
    /// stream.
    async fn read_buf(&mut self, buffer: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Self::Plain(tcp) => tcp.read_buf(buffer).await,
            Self::Tls(tls) => tls.read_buf(buffer).await,
        }
    }
}

/// A TLS session over TCP through rustls's unbuffered API, so that the TLS byte buffers are
/// ours: they exist during the handshake and an exchange only, and an idle connection holds
/// none (rustls's buffered connection keeps at least 4 KB of its own for each, 40 MB for ten
/// thousand idle connections).
struct TlsStream {
    tcp: TcpStream,
    session: UnbufferedClientConnection,
    /// TLS bytes received and not yet processed. Records are decrypted in place, so it holds
    /// plaintext too: wiped as records are discarded, the rest when its memory goes.
    incoming: Zeroizing<Vec<u8>>,
    /// TLS records to send: encrypted, never our plaintext.
    outgoing: Vec<u8>,
    /// The server sent close_notify: nothing more comes.
    closed: bool,
}

/// Where a TLS session stands once every whole record received is processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// The handshake needs more bytes from the server.
    Handshaking,
    /// Application data can be sent; more from the server needs another read.
    Open,
    /// The server closed the session.
    Closed,
}

impl TlsStream {
    /// Runs the handshake over a fresh TCP connection, then lets the buffers go.
    async fn connect(
        tcp: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<Self> {
        let session = UnbufferedClientConnection::new(config, name).map_err(tls_error)?;
        let mut tls = Self {
            tcp,
            session,
            incoming: Zeroizing::new(Vec::new()),
            outgoing: Vec::new(),
            closed: false,
        };
        loop {
            let progress = tls.process(None, None)?;
            tls.flush().await?;
            match progress {
                Progress::Open => break,
                Progress::Handshaking => tls.receive().await?,
                Progress::Closed => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the TLS session during the handshake",
                    ));
                }
            }
        }
        tls.release();
        Ok(tls)
    }

    /// Encrypts `bytes` and writes them, after any TLS records still to send, with one write.
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.process(None, Some(bytes))? {
            Progress::Open => self.flush().await,
            Progress::Closed => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the server closed the TLS session",
            )),
            Progress::Handshaking => Err(io::Error::other("the TLS handshake is not complete")),
        }
    }

    /// Reads more application data onto the end of `plaintext`: how much, 0 once the server
    /// closed the session with close_notify. A TCP close without it is an error: a truncated
    /// answer must not pass for a whole one.
    async fn read_buf(&mut self, plaintext: &mut Vec<u8>) -> io::Result<usize> {
        let start = plaintext.len();
        loop {
            let progress = self.process(Some(plaintext), None)?;
            // A key update may need an answer before the server sends more.
            self.flush().await?;
            if plaintext.len() > start {
                return Ok(plaintext.len() - start);
            }
            if progress == Progress::Closed {
                return Ok(0);
            }
            self.receive().await?;
        }
    }

    /// Waits for more TLS bytes from the server; the end of the stream is an error.
    async fn receive(&mut self) -> io::Result<()> {
        reserve_read(&mut self.incoming);
        match self.tcp.read_buf(&mut *self.incoming).await? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without a TLS close_notify",
            )),
            _ => Ok(()),
        }
    }

    /// Sends the TLS records waiting in the outgoing buffer.
    async fn flush(&mut self) -> io::Result<()> {
        if !self.outgoing.is_empty() {
            self.tcp.write_all(&self.outgoing).await?;
            self.outgoing.clear();
        }
        Ok(())
    }

    /// Processes every whole record received: decrypted application data goes onto the end
    /// of `plaintext` (without it, the data was not asked for: an error); handshake messages
    /// and alerts to send, and `request` encrypted once the session allows it, go into the
    /// outgoing buffer. [`Progress::Open`] means `request` was encrypted.
    fn process(
        &mut self,
        mut plaintext: Option<&mut Vec<u8>>,
        mut request: Option<&[u8]>,
    ) -> io::Result<Progress> {
        loop {
            let UnbufferedStatus { mut discard, state } =
                self.session.process_tls_records(&mut self.incoming);
            let progress = match state.map_err(tls_error)? {
                ConnectionState::ReadTraffic(mut traffic) => {
                    let into = plaintext.as_deref_mut().ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "unasked application data")
                    })?;
                    while let Some(record) = traffic.next_record() {
                        let record = record.map_err(tls_error)?;
                        discard += record.discard;
                        into.extend_from_slice(record.payload);
                    }
                    None
                }
                ConnectionState::EncodeTlsData(mut encode) => {
                    append_records(&mut self.outgoing, |outgoing| encode.encode(outgoing))?;
                    None
                }
                // The records are sent (`flush`) before anything is awaited from the server.
                ConnectionState::TransmitTlsData(transmit) => {
                    transmit.done();
                    None
                }
                ConnectionState::BlockedHandshake => Some(Progress::Handshaking),
                ConnectionState::PeerClosed | ConnectionState::Closed => {
                    self.closed = true;
                    Some(Progress::Closed)
                }
                // Only the first call after close_notify says so.
                ConnectionState::WriteTraffic(_) if self.closed => Some(Progress::Closed),
                ConnectionState::WriteTraffic(mut traffic) => match request.take() {
                    Some(bytes) => {
                        append_records(&mut self.outgoing, |outgoing| {
                            traffic.encrypt(bytes, outgoing)
                        })?;
                        None
                    }
                    None => Some(Progress::Open),
                },
                // Early data is a server's state.
                _ => return Err(io::Error::other("an unexpected TLS state")),
            };
            self.incoming.drain(..discard);
            // The discarded records were decrypted in place: wiped where the drain left them
            // (growing the buffer could otherwise leave them in the block it frees).
            self.incoming.spare_capacity_mut()[..discard].zeroize();
            if let Some(progress) = progress {
                return Ok(progress);
            }
        }
    }

    /// Whether the idle session can carry a request. What has arrived is read without
    /// waiting and processed, then let go: session tickets and key updates are no reason to
    /// drop it; the end of the stream, close_notify, application data or an error are.
    fn is_usable(&mut self) -> bool {
        let usable = self.read_arrived() && !self.closed
            // close_notify may have come with the last answer.
            && (self.incoming.is_empty() || matches!(self.process(None, None), Ok(Progress::Open)));
        self.release();
        usable
    }

    /// Reads into the incoming buffer what has arrived, without waiting: false at the end of
    /// the stream, on an error, or past [`MAX_IDLE_TLS_BYTES`]. Straight into the buffer's
    /// spare room (a zeroed array on the stack cost 9,000 instructions an order to clear).
    fn read_arrived(&mut self) -> bool {
        loop {
            if self.incoming.len() >= MAX_IDLE_TLS_BYTES {
                return false;
            }
            reserve_read(&mut self.incoming);
            // tokio's `try_read_buf` keeps its readiness right: reading around it made the
            // answer's first read a wasted syscall (about 7 % more CPU at the slot).
            match self.tcp.try_read_buf(&mut *self.incoming) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return true,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// Lets both buffers' memory go, keeping only bytes still to process (a record cut by the
    /// last read) or to send: usually none. Only those bytes are wiped in the incoming buffer:
    /// the rest was wiped when processed.
    fn release(&mut self) {
        let unprocessed = self.incoming.to_vec();
        self.incoming.as_mut_slice().zeroize();
        // Replaced inside its `Zeroizing`, whose drop would zero the whole capacity again.
        drop(std::mem::replace(&mut *self.incoming, unprocessed));
        self.outgoing.shrink_to_fit();
    }
}

/// A rustls error when encoding or encrypting into a buffer, which can say how much room it
/// needed.
trait NeedsRoom: std::error::Error + Send + Sync + 'static {
    /// The room needed, when that is what went wrong.
    fn required(&self) -> Option<usize>;
}

impl NeedsRoom for EncodeError {
    fn required(&self) -> Option<usize> {
        match self {
            Self::InsufficientSize(size) => Some(size.required_size),
            _ => None,
        }
    }
}

impl NeedsRoom for EncryptError {
    fn required(&self) -> Option<usize> {
        match self {
            Self::InsufficientSize(size) => Some(size.required_size),
            _ => None,
        }
    }
}

/// Appends to `outgoing` the TLS bytes `write` puts into a slice. `write` is first given no
/// room, so that rustls says the exact size it needs (it writes nothing when it does not fit).
fn append_records<E: NeedsRoom>(
    outgoing: &mut Vec<u8>,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, E>,
) -> io::Result<()> {
    let used = outgoing.len();
    let written = match write(&mut []) {
        Ok(written) => written,
        Err(error) => {
            let required = error.required().ok_or_else(|| io::Error::other(error))?;
            outgoing.resize(used + required, 0);
            let written = write(&mut outgoing[used..]);
            outgoing.truncate(used + written.as_ref().map_or(0, |written| *written));
            written.map_err(io::Error::other)?
        }
    };
    outgoing.truncate(used + written);
    Ok(())
}

fn tls_error(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// A pooled connection: its stream and, during an exchange, its buffer (request head, then
/// answer bytes; wiped after each, since both can hold tokens, and freed after the answer).
struct Connection {
    origin: Origin,
    stream: Stream,
    buffer: Zeroizing<Vec<u8>>,
    idle_since: Instant,
}

impl Connection {
    /// Wipes the bytes of the request or answer in the buffer, keeping its memory.
    fn wipe(&mut self) {
        self.buffer.as_mut_slice().zeroize();
        self.buffer.clear();
    }

    /// Wipes the buffers and lets their memory go: an idle connection holds no buffer of ours
    /// (ten thousand idle connections at the slot would hold 80 MB of them) nor of rustls.
    fn release(&mut self) {
        self.wipe();
        // Taken out of its `Zeroizing`, whose drop would zero the whole capacity again.
        drop(std::mem::take(&mut *self.buffer));
        if let Stream::Tls(tls) = &mut self.stream {
            tls.release();
        }
    }

    /// Whether the idle connection can carry a request: the server has not closed it and sent
    /// nothing unasked. Over plain TCP, one non-blocking peek at the socket. Over TLS, what
    /// has arrived is processed without waiting: a TLS 1.3 server sends session tickets right
    /// after the handshake, which a connection opened ahead of the slot has not read yet, and
    /// they are no reason to drop it; application data, a close or an error are.
    fn is_usable(&mut self, idle_timeout: Duration) -> bool {
        if self.idle_since.elapsed() >= idle_timeout {
            return false;
        }
        match &mut self.stream {
            Stream::Plain(tcp) => {
                let mut probe = [MaybeUninit::<u8>::uninit(); 1];
                matches!(
                    SockRef::from(&*tcp).peek(&mut probe),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock
                )
            }
            Stream::Tls(tls) => tls.is_usable(),
        }
    }
}

/// The idle connections of one client, for every origin it talks to.
pub(crate) struct Pool {
    idle: Mutex<Vec<Connection>>,
    idle_timeout: Duration,
    connector: Connector,
}

/// One answer as read off the connection.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Vec<u8>,
}

/// How the answer's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// The parts of an answer head the exchange needs.
#[derive(Debug)]
struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
    retry_after: Option<Duration>,
}

impl Pool {
    pub(crate) fn new(connector: Connector, idle_timeout: Duration) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            idle_timeout,
            connector,
        }
    }

    /// Sends a request and reads its answer, its body capped at `limit` bytes. `sent` is set
    /// just before the first byte of the request is written.
    pub(crate) async fn exchange(
        &self,
        request: &ApiRequest,
        user_agent: &HeaderValue,
        limit: usize,
        sent: &AtomicBool,
    ) -> Result<Answer, Failure> {
        let ApiRequest {
            method,
            uri,
            headers,
            body,
        } = request;
        let origin = origin_of(uri, self.connector.allow_plain_http).map_err(Failure::NotSent)?;
        let mut connection = match self.checkout(&origin) {
            Some(connection) => connection,
            None => self.connect(&origin).await.map_err(Failure::NotSent)?,
        };
        connection.buffer.reserve(READ_SIZE);
        write_request(
            &mut connection.buffer,
            method,
            uri,
            headers,
            body.as_deref(),
            user_agent,
        );
        // From here on the request may have left: it is never sent again.
        sent.store(true, Ordering::Relaxed);
        let written = connection.stream.write_all(&connection.buffer).await;
        connection.wipe();
        written.map_err(|error| Failure::Lost(error.into()))?;
        let result = read_answer(&mut connection, method, limit).await;
        connection.release();
        let (answer, reusable) = result?;
        if reusable {
            connection.idle_since = Instant::now();
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(connection);
            }
        }
        Ok(answer)
    }

    /// Opens connections to `uri`'s origin until the pool holds `connections` usable idle
    /// ones (those it holds already count, closed or expired ones are dropped); returns how
    /// many it opened. Opening stops at the first failure.
    pub(crate) async fn keep_open(
        &self,
        uri: &Uri,
        connections: usize,
    ) -> Result<usize, ExchangeError> {
        let origin = origin_of(uri, self.connector.allow_plain_http)?;
        let usable = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let timeout = self.idle_timeout;
            idle.retain_mut(|connection| {
                !connection.origin.is(&origin) || connection.is_usable(timeout)
            });
            idle.iter()
                .filter(|connection| connection.origin.is(&origin))
                .count()
        };
        let mut opened = 0;
        while usable + opened < connections {
            let connection = self.connect(&origin).await?;
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
            opened += 1;
        }
        Ok(opened)
    }

    /// The most recently used idle connection to `origin` that can still carry a request;
    /// expired or closed ones met on the way are dropped.
    fn checkout(&self, origin: &Origin<&str>) -> Option<Connection> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(index) = idle.iter().rposition(|idle| idle.origin.is(origin)) {
            let mut connection = idle.swap_remove(index);
            if connection.is_usable(self.idle_timeout) {
                return Some(connection);
            }
            tracing::trace!("an idle API connection was closed or expired: dropped");
        }
        let timeout = self.idle_timeout;
        idle.retain(|connection| connection.idle_since.elapsed() < timeout);
        None
    }

    /// Opens a connection to `origin`: the egress address bound, within the connect timeout,
    /// then the TLS handshake for https.
    async fn connect(&self, origin: &Origin<&str>) -> Result<Connection, ExchangeError> {
        let connector = &self.connector;
        let host = origin
            .host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(origin.host);
        let tcp = tokio::time::timeout(
            connector.connect_timeout,
            connect_tcp(host, origin.port, connector),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        tracing::trace!(tls = origin.tls, "API connection opened");
        let stream = if origin.tls {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|_| ExchangeError::Refused("the host is not a valid TLS server name"))?;
            let tls = TlsStream::connect(tcp, Arc::clone(&connector.tls), name).await?;
            Stream::Tls(Box::new(tls))
        } else {
            Stream::Plain(tcp)
        };
        Ok(Connection {
            origin: Origin {
                tls: origin.tls,
                host: origin.host.to_owned(),
                port: origin.port,
            },
            stream,
            buffer: Zeroizing::new(Vec::new()),
            idle_since: Instant::now(),
        })
    }
}

/// Connects to the first address of `host` that accepts, from the egress address when bound
/// (addresses of the other family are skipped: the broker must see the bound address).
async fn connect_tcp(host: &str, port: u16, connector: &Connector) -> io::Result<TcpStream> {
    let mut last_error = None;
    for address in tokio::net::lookup_host((host, port)).await? {
        if connector
            .local
            .is_some_and(|local| local.is_ipv4() != address.is_ipv4())
        {
            continue;
        }
        match connect_one(address, connector).await {
            Ok(tcp) => return Ok(tcp),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "no address of the host's family matches the egress address",
        )
    }))
}

async fn connect_one(address: SocketAddr, connector: &Connector) -> io::Result<TcpStream> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(local) = connector.local {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    SockRef::from(&socket)
        .set_tcp_keepalive(&TcpKeepalive::new().with_time(connector.keepalive))?;
    let tcp = socket.connect(address).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// The origin of an absolute `uri`, https only unless plain http is allowed.
fn origin_of(uri: &Uri, allow_plain_http: bool) -> Result<Origin<&str>, ExchangeError> {
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if allow_plain_http => false,
        Some("http") => {
            return Err(ExchangeError::Refused(
                "plain http is not allowed: brokers are reached over https only",
            ));
        }
        _ => return Err(ExchangeError::Refused("not an absolute http(s) URI")),
    };
    let host = uri
        .host()
        .filter(|host| !host.is_empty())
        .ok_or(ExchangeError::Refused("the URI has no host"))?;
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(Origin { tls, host, port })
}

/// Writes the request head and body into `buffer` (cleared first): `Host` and `User-Agent`
/// added when missing, `Content-Length` computed (any given one, and any
/// `Transfer-Encoding`, left out).
fn write_request(
    buffer: &mut Vec<u8>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    user_agent: &HeaderValue,
) {
    buffer.clear();
    buffer.extend_from_slice(method.as_str().as_bytes());
    buffer.push(b' ');
    let target = uri.path_and_query().map_or("/", |target| target.as_str());
    buffer.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
    buffer.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        push_header(buffer, name.as_str().as_bytes(), value.as_bytes());
    }
    if !headers.contains_key(HOST) {
        // The authority as written (port included when given), without any user info.
        let authority = uri.authority().map_or("", |authority| authority.as_str());
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        push_header(buffer, b"host", host.as_bytes());
    }
    if !headers.contains_key(USER_AGENT) {
        push_header(buffer, b"user-agent", user_agent.as_bytes());
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() || !matches!(*method, Method::GET | Method::HEAD | Method::DELETE) {
        buffer.extend_from_slice(b"content-length: ");
        push_decimal(buffer, body.len());
        buffer.extend_from_slice(b"\r\n");
    }
    buffer.extend_from_slice(b"\r\n");
    buffer.extend_from_slice(body);
}

fn push_header(buffer: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    buffer.extend_from_slice(name);
    buffer.extend_from_slice(b": ");
    buffer.extend_from_slice(value);
    buffer.extend_from_slice(b"\r\n");
}

fn push_decimal(buffer: &mut Vec<u8>, mut value: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buffer.extend_from_slice(&digits[start..]);
}

/// Reads more of the answer into the connection's buffer; the end of the stream is an error
/// (the answer was not complete).
async fn fill(connection: &mut Connection) -> Result<(), Failure> {
    reserve_read(&mut connection.buffer);
    match connection.stream.read_buf(&mut connection.buffer).await {
        Ok(0) => Err(Failure::Lost(ExchangeError::Closed)),
        Ok(_) => Ok(()),
        Err(error) => Err(Failure::Lost(error.into())),
    }
}

/// Makes room in `buffer` for a read when little is left.
fn reserve_read(buffer: &mut Vec<u8>) {
    if buffer.capacity() - buffer.len() < READ_SIZE / 4 {
        buffer.reserve(READ_SIZE);
    }
}

fn malformed(what: &'static str) -> Failure {
    Failure::Lost(ExchangeError::Malformed(what))
}

/// Reads one answer (1xx interim answers skipped), and says whether the connection can carry
/// another request.
async fn read_answer(
    connection: &mut Connection,
    method: &Method,
    limit: usize,
) -> Result<(Answer, bool), Failure> {
    connection.buffer.clear();
    let (head, head_length) = loop {
        match parse_head(&connection.buffer, method)? {
            Some((head, length)) if (100..200).contains(&head.status) => {
                connection.buffer.drain(..length);
            }
            Some(parsed) => break parsed,
            None if connection.buffer.len() >= MAX_HEAD_BYTES => {
                return Err(malformed("the answer head is too large"));
            }
            None => fill(connection).await?,
        }
    };
    let status = head.status;
    let mut keep_alive = head.keep_alive;
    let body = match head.framing {
        Framing::Length(length) => {
            let length = usize::try_from(length)
                .ok()
                .filter(|length| *length <= limit)
                .ok_or(Failure::TooLarge { status })?;
            let end = head_length + length;
            let missing = end.saturating_sub(connection.buffer.len());
            connection.buffer.reserve(missing);
            while connection.buffer.len() < end {
                fill(connection).await?;
            }
            // Bytes past the answer were not asked for: the connection is not reused.
            keep_alive &= connection.buffer.len() == end;
            connection.buffer[head_length..end].to_vec()
        }
        Framing::Chunked => {
            let (body, end) = read_chunked(connection, head_length, limit, status).await?;
            keep_alive &= connection.buffer.len() == end;
            body
        }
        Framing::UntilClose => {
            keep_alive = false;
            while connection.buffer.len() - head_length <= limit {
                connection.buffer.reserve(READ_SIZE);
                match connection.stream.read_buf(&mut connection.buffer).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) => return Err(Failure::Lost(error.into())),
                }
            }
            if connection.buffer.len() - head_length > limit {
                return Err(Failure::TooLarge { status });
            }
            connection.buffer[head_length..].to_vec()
        }
    };
    Ok((
        Answer {
            status,
            retry_after: head.retry_after,
            body,
        },
        keep_alive,
    ))
}

/// Parses an answer head at the start of `bytes`: `None` while incomplete.
fn parse_head(bytes: &[u8], method: &Method) -> Result<Option<(Head, usize)>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(bytes) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(malformed("too many headers")),
        Err(_) => return Err(malformed("not an HTTP/1.x answer head")),
    };
    let status = response.code.unwrap_or_default();
    if status == 101 {
        return Err(malformed("an unrequested protocol switch"));
    }
    let http11 = response.version == Some(1);
    let mut content_length = None;
    let mut chunked = false;
    let mut close = !http11;
    let mut retry_after = None;
    for header in response.headers.iter() {
        let name = header.name;
        let value = trim(header.value);
        if name.eq_ignore_ascii_case("content-length") {
            let parsed = parse_decimal(value).ok_or(malformed("a bad Content-Length"))?;
            if content_length.is_some_and(|known| known != parsed) {
                return Err(malformed("conflicting Content-Length headers"));
            }
            content_length = Some(parsed);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if chunked || !value.eq_ignore_ascii_case(b"chunked") {
                return Err(malformed("a transfer coding other than chunked"));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|byte| *byte == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                }
            }
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = parse_decimal(value).map(Duration::from_secs);
        }
    }
    if chunked && content_length.is_some() {
        return Err(malformed("both Content-Length and Transfer-Encoding"));
    }
    if chunked && !http11 {
        return Err(malformed("a chunked body in an HTTP/1.0 answer"));
    }
    let bodiless =
        (100..200).contains(&status) || status == 204 || status == 304 || *method == Method::HEAD;
    let framing = match (bodiless, chunked, content_length) {
        (true, _, _) => Framing::Length(0),
        (false, true, _) => Framing::Chunked,
        (false, false, Some(length)) => Framing::Length(length),
        (false, false, None) => Framing::UntilClose,
    };
    Ok(Some((
        Head {
            status,
            framing,
            keep_alive: !close,
            retry_after,
        },
        length,
    )))
}

/// Reads a chunked body that starts at `start` in the connection's buffer, decoding it into a
/// new vector; returns it and where the answer ends in the buffer (trailers included).
async fn read_chunked(
    connection: &mut Connection,
    start: usize,
    limit: usize,
    status: u16,
) -> Result<(Vec<u8>, usize), Failure> {
    let mut body = Vec::new();
    let mut at = start;
    loop {
        let (line, size) = loop {
            let pending = &connection.buffer[at..];
            if !pending.first().is_some_and(u8::is_ascii_hexdigit) && !pending.is_empty() {
                return Err(malformed("a bad chunk size"));
            }
            match httparse::parse_chunk_size(pending) {
                Ok(httparse::Status::Complete(parsed)) => break parsed,
                Ok(httparse::Status::Partial) if pending.len() < MAX_CHUNK_LINE_BYTES => {
                    fill(connection).await?;
                }
                _ => return Err(malformed("a bad chunk size")),
            }
        };
        at += line;
        let size = usize::try_from(size)
            .ok()
            .filter(|size| body.len().saturating_add(*size) <= limit)
            .ok_or(Failure::TooLarge { status })?;
        if size == 0 {
            return Ok((body, read_trailers(connection, at).await?));
        }
        while connection.buffer.len() < at + size + 2 {
            fill(connection).await?;
        }
        if &connection.buffer[at + size..at + size + 2] != b"\r\n" {
            return Err(malformed("a chunk not followed by CRLF"));
        }
        body.extend_from_slice(&connection.buffer[at..at + size]);
        at += size + 2;
    }
}

/// Skips the trailer section after the last chunk; returns where the answer ends.
async fn read_trailers(connection: &mut Connection, start: usize) -> Result<usize, Failure> {
    loop {
        let pending = &connection.buffer[start..];
        if pending.starts_with(b"\r\n") {
            return Ok(start + 2);
        }
        if let Some(end) = pending.windows(4).position(|window| window == b"\r\n\r\n") {
            return Ok(start + end + 4);
        }
        if pending.len() >= MAX_CHUNK_LINE_BYTES {
            return Err(malformed("the trailers are too large"));
        }
        fill(connection).await?;
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// A decimal number of at most 19 digits and nothing else.
fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 19 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u64, |total, digit| total * 10 + u64::from(digit - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<(Head, usize)>, Failure> {
        parse_head(text.as_bytes(), &Method::POST)
    }

    fn refused(text: &str) -> bool {
        matches!(head(text), Err(Failure::Lost(ExchangeError::Malformed(_))))
    }

    #[test]
    fn heads_are_parsed_strictly() {
        let (parsed, length) =
            head("HTTP/1.1 200 OK\r\ncontent-length: 12\r\nretry-after: 3\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(length, 55);
        assert_eq!(parsed.framing, Framing::Length(12));
        assert!(parsed.keep_alive);
        assert_eq!(parsed.retry_after, Some(Duration::from_secs(3)));
        assert!(head("HTTP/1.1 200 OK\r\ncontent-le").unwrap().is_none());
        for bad in [
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 3x\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n",
            "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            assert!(refused(bad), "{bad:?}");
        }
        let (parsed, _) = head("HTTP/1.1 200 OK\r\nconnection: keep-alive, Close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!parsed.keep_alive);
        assert_eq!(parsed.framing, Framing::UntilClose);
        let (parsed, _) = head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!parsed.keep_alive, "HTTP/1.0 connections are not reused");
        let (parsed, _) = head("HTTP/1.1 204 No Content\r\n\r\n").unwrap().unwrap();
        assert_eq!(parsed.framing, Framing::Length(0));
        let (parsed, _) = parse_head(
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n",
            &Method::HEAD,
        )
        .unwrap()
        .unwrap();
        assert_eq!(parsed.framing, Framing::Length(0));
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "x-a: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(refused(&many));
    }

    #[test]
    fn requests_are_written_in_one_buffer_with_the_computed_length() {
        let mut headers = HeaderMap::new();
        headers.insert("x-key", HeaderValue::from_static("k"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        let uri = Uri::from_static("http://127.0.0.1:8080/a/b?c=d");
        let mut buffer = Vec::new();
        let agent = HeaderValue::from_static("agent/1");
        write_request(
            &mut buffer,
            &Method::POST,
            &uri,
            &headers,
            Some(b"{}"),
            &agent,
        );
        assert_eq!(
            String::from_utf8(buffer.clone()).unwrap(),
            "POST /a/b?c=d HTTP/1.1\r\nx-key: k\r\nhost: 127.0.0.1:8080\r\nuser-agent: agent/1\r\ncontent-length: 2\r\n\r\n{}"
        );
        let uri = Uri::from_static("https://user:pw@example.com");
        write_request(
            &mut buffer,
            &Method::GET,
            &uri,
            &HeaderMap::new(),
            None,
            &agent,
        );
        assert_eq!(
            String::from_utf8(buffer).unwrap(),
            "GET / HTTP/1.1\r\nhost: example.com\r\nuser-agent: agent/1\r\n\r\n"
        );
    }

    #[test]
    fn origins_need_an_allowed_scheme_and_a_host() {
        let origin = |text: &'static str, plain| {
            origin_of(&Uri::from_static(text), plain)
                .map(|origin| (origin.tls, origin.host.to_owned(), origin.port))
        };
        assert_eq!(
            origin("https://h.example/x", false).unwrap(),
            (true, "h.example".to_owned(), 443)
        );
        assert_eq!(
            origin("http://[::1]:81/", true).unwrap(),
            (false, "[::1]".to_owned(), 81)
        );
        assert!(origin("http://h.example/", false).is_err());
        assert!(origin("/relative", true).is_err());
    }

    fn plain_pool() -> Pool {
        Pool::new(
            Connector {
                local: None,
                connect_timeout: Duration::from_secs(1),
                allow_plain_http: true,
                tls: crate::TlsConfig::webpki().config,
                keepalive: Duration::from_secs(30),
            },
            Duration::from_secs(60),
        )
    }

    #[tokio::test]
    async fn keep_open_holds_as_many_connections_as_requests_at_once_need() {
        use std::sync::atomic::AtomicUsize;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        tokio::spawn({
            let accepted = std::sync::Arc::clone(&accepted);
            async move {
                loop {
                    let (mut socket, _) = listener.accept().await.unwrap();
                    accepted.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let mut request = [0u8; 1024];
                        while socket.read(&mut request).await.is_ok_and(|read| read > 0) {
                            // Slow enough that the three requests overlap.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if socket.write_all(answer).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            }
        });
        let pool = plain_pool();
        let uri = Uri::try_from(format!("http://{address}/orders")).unwrap();
        assert_eq!(pool.keep_open(&uri, 3).await.unwrap(), 3);
        assert_eq!(pool.keep_open(&uri, 3).await.unwrap(), 0, "already open");
        assert_eq!(pool.keep_open(&uri, 2).await.unwrap(), 0);
        for _ in 0..100 {
            if accepted.load(Ordering::SeqCst) == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3, "three opened ahead");

        let agent = HeaderValue::from_static("agent/1");
        let request = ApiRequest::new(Method::GET, uri.clone());
        let sent = AtomicBool::new(false);
        let exchange = || pool.exchange(&request, &agent, 1024, &sent);
        let (first, second, third) = tokio::join!(exchange(), exchange(), exchange());
        let answers = [first, second, third];
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            3,
            "no connection opened at the slot"
        );
        let other = Uri::try_from("http://127.0.0.1:1/").unwrap();
        assert!(
            pool.keep_open(&other, 1).await.is_err(),
            "nothing listens there"
        );
    }

    #[tokio::test]
    async fn idle_connections_hold_no_buffer() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await.unwrap();
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            socket.write_all(answer).await.unwrap();
            // Kept open, so that the connection stays usable.
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let pool = plain_pool();
        let request = ApiRequest::new(
            Method::GET,
            Uri::try_from(format!("http://{address}/")).unwrap(),
        );
        let agent = HeaderValue::from_static("agent/1");
        let answer = pool
            .exchange(&request, &agent, 1024, &AtomicBool::new(false))
            .await
            .unwrap();
        assert_eq!(answer.body, b"ok");
        let idle = pool.idle.lock().unwrap();
        assert_eq!(idle.len(), 1, "the connection was kept");
        assert_eq!(idle[0].buffer.capacity(), 0);
    }

    /// The TLS path, against a local TLS server with a certificate made for it (rcgen and
    /// tokio-rustls come with the simulators' feature).
    #[cfg(feature = "sim")]
    mod over_tls {
        use super::*;
        use rustls::version::{TLS12, TLS13};
        use std::future::Future;
        use std::sync::atomic::AtomicUsize;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_rustls::server::TlsStream as ServerStream;

        const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

        /// What the server saw.
        #[derive(Default)]
        struct Seen {
            accepted: AtomicUsize,
            handshakes: AtomicUsize,
            server_names: Mutex<Vec<String>>,
        }

        /// Starts a TLS server on 127.0.0.1 speaking `versions`, running `serve` on each
        /// session (with its connection's index); returns a pool whose connections trust its
        /// certificate, its address and what it saw.
        async fn start<S, F>(
            versions: &[&'static rustls::SupportedProtocolVersion],
            serve: S,
        ) -> (Pool, SocketAddr, Arc<Seen>)
        where
            S: Fn(ServerStream<TcpStream>, usize) -> F + Send + 'static,
            F: Future<Output = ()> + Send + 'static,
        {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            let certified = rcgen::generate_simple_self_signed(names).unwrap();
            let certificate = certified.cert.der().clone();
            let key =
                rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_protocol_versions(versions)
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![certificate], key)
                .unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let seen = Arc::new(Seen::default());
            tokio::spawn({
                let seen = Arc::clone(&seen);
                async move {
                    loop {
                        let (socket, _) = listener.accept().await.unwrap();
                        let index = seen.accepted.fetch_add(1, Ordering::SeqCst);
                        let Ok(tls) = acceptor.accept(socket).await else {
                            continue;
                        };
                        seen.handshakes.fetch_add(1, Ordering::SeqCst);
                        if let Some(name) = tls.get_ref().1.server_name() {
                            seen.server_names.lock().unwrap().push(name.to_owned());
                        }
                        tokio::spawn(serve(tls, index));
                    }
                }
            });
            let roots = crate::TlsConfig::with_extra_roots(certified.cert.pem().as_bytes());
            let pool = Pool::new(
                Connector {
                    local: None,
                    connect_timeout: Duration::from_secs(1),
                    allow_plain_http: false,
                    tls: roots.unwrap().config,
                    keepalive: Duration::from_secs(30),
                },
                Duration::from_secs(60),
            );
            (pool, address, seen)
        }

        /// Reads one request: its body, or `None` once the client is gone.
        async fn read_request(tls: &mut ServerStream<TcpStream>) -> Option<Vec<u8>> {
            let mut bytes = Vec::new();
            let head_end = loop {
                if let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
                    break end + 4;
                }
                if tls.read_buf(&mut bytes).await.ok()? == 0 {
                    return None;
                }
            };
            let head = String::from_utf8_lossy(&bytes[..head_end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .map_or(0, |length| length.parse().unwrap());
            while bytes.len() < head_end + length {
                if tls.read_buf(&mut bytes).await.ok()? == 0 {
                    return None;
                }
            }
            Some(bytes.split_off(head_end))
        }

        async fn serve_ok(mut tls: ServerStream<TcpStream>, _: usize) {
            while read_request(&mut tls).await.is_some() {
                tls.write_all(OK).await.unwrap();
            }
        }

        fn tls_of(connection: &mut Connection) -> &mut TlsStream {
            match &mut connection.stream {
                Stream::Tls(tls) => tls,
                Stream::Plain(_) => panic!("a TLS connection"),
            }
        }

        fn holds_no_buffer(connection: &mut Connection) -> bool {
            let empty = connection.buffer.capacity() == 0;
            let tls = tls_of(connection);
            empty && tls.incoming.capacity() == 0 && tls.outgoing.capacity() == 0
        }

        async fn get(pool: &Pool, uri: &Uri, limit: usize) -> Result<Answer, Failure> {
            let request = ApiRequest::new(Method::GET, uri.clone());
            let agent = HeaderValue::from_static("agent/1");
            pool.exchange(&request, &agent, limit, &AtomicBool::new(false))
                .await
        }

        #[tokio::test]
        async fn a_pooled_connection_survives_session_tickets_and_holds_no_buffer() {
            let (pool, address, seen) = start(&[&TLS13], serve_ok).await;
            let uri = Uri::try_from(format!("https://localhost:{}/", address.port())).unwrap();
            assert_eq!(pool.keep_open(&uri, 1).await.unwrap(), 1);
            // The server sends its session tickets once the handshake is over: unread yet.
            tokio::time::sleep(Duration::from_millis(100)).await;
            {
                let mut idle = pool.idle.lock().unwrap();
                assert!(holds_no_buffer(&mut idle[0]));
                let tls = tls_of(&mut idle[0]);
                assert_eq!(tls.session.tls13_tickets_received(), 0);
                assert!(tls.is_usable());
                assert_eq!(
                    tls.session.tls13_tickets_received(),
                    2,
                    "the tickets were read"
                );
                assert!(holds_no_buffer(&mut idle[0]), "and let go");
            }
            for _ in 0..3 {
                assert_eq!(get(&pool, &uri, 1024).await.unwrap().body, b"ok");
            }
            assert_eq!(
                seen.accepted.load(Ordering::SeqCst),
                1,
                "one connection, reused"
            );
            assert_eq!(seen.handshakes.load(Ordering::SeqCst), 1);
            assert_eq!(*seen.server_names.lock().unwrap(), ["localhost"], "SNI");
            let mut idle = pool.idle.lock().unwrap();
            assert_eq!(idle.len(), 1);
            assert!(holds_no_buffer(&mut idle[0]));
        }

        #[tokio::test]
        async fn a_close_or_unasked_data_while_idle_drops_the_connection() {
            let (pool, address, seen) = start(&[&TLS13], |mut tls, index| async move {
                while read_request(&mut tls).await.is_some() {
                    tls.write_all(OK).await.unwrap();
                    if index > 0 {
                        // The client has put the connection back by then.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    match index {
                        // close_notify, the TCP connection left open: right after the
                        // answer, then while idle.
                        0 | 1 => {
                            tls.get_mut().1.send_close_notify();
                            tls.flush().await.unwrap();
                        }
                        2 => tls.write_all(OK).await.unwrap(),
                        // Closed without close_notify.
                        3 => return,
                        _ => continue,
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            })
            .await;
            let uri = Uri::try_from(format!("https://{address}/")).unwrap();
            for _ in 0..5 {
                assert_eq!(get(&pool, &uri, 1024).await.unwrap().body, b"ok");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(
                seen.accepted.load(Ordering::SeqCst),
                5,
                "each of the first four connections was dropped for a new one"
            );
        }

        #[tokio::test]
        async fn large_requests_and_chunked_answers_span_several_records() {
            let (pool, address, seen) = start(&[&TLS13], |mut tls, _| async move {
                while let Some(body) = read_request(&mut tls).await {
                    // The body back in chunks, with one write: several records at a time,
                    // records cut across reads.
                    let mut answer =
                        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                    for chunk in body.chunks(7000) {
                        answer.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                        answer.extend_from_slice(chunk);
                        answer.extend_from_slice(b"\r\n");
                    }
                    answer.extend_from_slice(b"0\r\n\r\n");
                    tls.write_all(&answer).await.unwrap();
                }
            })
            .await;
            let uri = Uri::try_from(format!("https://{address}/echo")).unwrap();
            let body: Vec<u8> = (0..100_000u32).map(|at| (at % 251) as u8).collect();
            let request = ApiRequest {
                body: Some(body.clone().into()),
                ..ApiRequest::new(Method::POST, uri)
            };
            let agent = HeaderValue::from_static("agent/1");
            for _ in 0..2 {
                let answer = pool
                    .exchange(&request, &agent, body.len(), &AtomicBool::new(false))
                    .await
                    .unwrap();
                assert!(answer.body == body);
            }
            assert_eq!(seen.accepted.load(Ordering::SeqCst), 1, "reused");
            assert!(holds_no_buffer(&mut pool.idle.lock().unwrap()[0]));
            let over = pool
                .exchange(&request, &agent, body.len() - 1, &AtomicBool::new(false))
                .await;
            assert!(matches!(over, Err(Failure::TooLarge { status: 200 })));
        }

        #[tokio::test]
        async fn a_tls12_server_works_and_its_connection_is_reused() {
            let (pool, address, seen) = start(&[&TLS12], serve_ok).await;
            let uri = Uri::try_from(format!("https://{address}/")).unwrap();
            for _ in 0..3 {
                assert_eq!(get(&pool, &uri, 1024).await.unwrap().body, b"ok");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(seen.handshakes.load(Ordering::SeqCst), 1);
            let mut idle = pool.idle.lock().unwrap();
            let version = tls_of(&mut idle[0]).session.protocol_version();
            assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_2));
            assert!(holds_no_buffer(&mut idle[0]));
        }

        #[tokio::test]
        async fn an_untrusted_certificate_fails_before_anything_is_sent() {
            let (_, address, seen) = start(&[&TLS13], serve_ok).await;
            let uri = Uri::try_from(format!("https://{address}/")).unwrap();
            let stranger = Pool::new(
                Connector {
                    allow_plain_http: false,
                    ..plain_pool().connector
                },
                Duration::from_secs(60),
            );
            let sent = AtomicBool::new(false);
            let request = ApiRequest::new(Method::GET, uri);
            let agent = HeaderValue::from_static("agent/1");
            let failed = stranger.exchange(&request, &agent, 1024, &sent).await;
            assert!(matches!(
                failed,
                Err(Failure::NotSent(ExchangeError::Io(_)))
            ));
            assert!(!sent.load(Ordering::SeqCst));
            assert_eq!(seen.handshakes.load(Ordering::SeqCst), 0);
        }
    }

    #[test]
    fn decimals_are_digits_only() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"161"), Some(161));
        for bad in [&b""[..], b"+1", b"1 2", b"0x10", b"99999999999999999999"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
        let mut buffer = Vec::new();
        push_decimal(&mut buffer, 0);
        push_decimal(&mut buffer, 1_234_567);
        assert_eq!(buffer, b"01234567");
    }
}
