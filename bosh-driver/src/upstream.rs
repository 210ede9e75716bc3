//! The upstream side: where a session may connect, and the TCP connection to
//! the XMPP server (one per stream), framed by [`bosh_core::xmpp`].
//!
//! # Never an open proxy
//!
//! The addresses the connection manager connects to come only from the
//! configuration ([`UpstreamPolicy`]); a client's `to` and `route` can only
//! *select* among them. Anything else is refused before any connection is
//! attempted: with `improper-addressing` when `to` is missing or `route` is
//! malformed, with `host-unknown` when `to` or `route` names a target the
//! configuration does not list (XEP-0124 §17.2).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bosh_core::Condition;
use bosh_core::body::Version;
use bosh_core::server::{StreamId, UpstreamEvent};
use bosh_core::xmpp::{FramerLimits, StreamEvent, StreamFramer, StreamHeader, write_stream_close};
use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use tracing::{debug, warn};

use crate::runtime::{BoxFuture, BoxStream, Runtime, Timer, deadline_in};

/// A `host:port` pair; an IPv6 host is written in brackets (`[::1]:5222`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// A host name or an IP address (IPv6 without brackets).
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

/// Why a `host:port` string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostPortError {
    /// No `:port` at the end.
    #[error("expected HOST:PORT (e.g. 127.0.0.1:5222), found no port")]
    MissingPort,
    /// The port is not a number in 1..=65535.
    #[error("the port must be a number in 1..=65535")]
    InvalidPort,
    /// The host is empty or contains characters no host name has.
    #[error("the host is empty or not a valid host name or IP address")]
    InvalidHost,
}

impl FromStr for HostPort {
    type Err = HostPortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or(HostPortError::InvalidHost)?;
            let port = after.strip_prefix(':').ok_or(HostPortError::MissingPort)?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(HostPortError::InvalidHost);
            }
            (host, port)
        } else {
            let (host, port) = s.rsplit_once(':').ok_or(HostPortError::MissingPort)?;
            if host.contains(':') {
                // A bare IPv6 address: the brackets are required.
                return Err(HostPortError::InvalidHost);
            }
            let ok = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
            if !ok {
                return Err(HostPortError::InvalidHost);
            }
            (host, port)
        };
        let ok_digits =
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
        let port: u16 = ok_digits
            .then(|| port.parse().ok())
            .flatten()
            .filter(|p| *p != 0)
            .ok_or(HostPortError::InvalidPort)?;
        Ok(HostPort {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Where sessions may connect. Built from the configuration
/// ([`Config`](crate::Config): `upstream`, `allowed_domains`, `domains`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamPolicy {
    /// Every stream goes to one address (a connection manager in front of
    /// one XMPP server).
    Fixed {
        /// The only address ever connected to.
        address: HostPort,
        /// The `to` domains accepted, lower case; empty accepts any `to`
        /// (still only ever connecting to `address`).
        allowed_domains: Vec<String>,
    },
    /// Each allowed domain has its own address; any other `to` is refused.
    Domains(BTreeMap<String, HostPort>),
}

impl UpstreamPolicy {
    /// Decides where a stream with this `to` and `route` goes (XEP-0124
    /// §7.1, §17.2):
    ///
    /// - `to` missing or empty: `improper-addressing` (the stream header
    ///   needs it);
    /// - `to` not allowed: `host-unknown`;
    /// - `route` (`xmpp:host:port`) present: it must name exactly the
    ///   configured address for `to`, otherwise `host-unknown`; a `route`
    ///   that is not of that form is `improper-addressing`.
    ///
    /// Domains compare ASCII case-insensitively.
    pub fn resolve(&self, to: Option<&str>, route: Option<&str>) -> Result<HostPort, Condition> {
        let to = to
            .map(|t| t.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .ok_or(Condition::ImproperAddressing)?;
        let address = match self {
            UpstreamPolicy::Fixed {
                address,
                allowed_domains,
            } => {
                if !allowed_domains.is_empty() && !allowed_domains.contains(&to) {
                    return Err(Condition::HostUnknown);
                }
                address
            }
            UpstreamPolicy::Domains(table) => table.get(&to).ok_or(Condition::HostUnknown)?,
        };
        if let Some(route) = route {
            let target = parse_route(route).ok_or(Condition::ImproperAddressing)?;
            if &target != address {
                return Err(Condition::HostUnknown);
            }
        }
        Ok(address.clone())
    }
}

impl fmt::Display for UpstreamPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamPolicy::Fixed {
                address,
                allowed_domains,
            } if allowed_domains.is_empty() => write!(f, "{address} (any domain)"),
            UpstreamPolicy::Fixed {
                address,
                allowed_domains,
            } => write!(f, "{address} (domains: {})", allowed_domains.join(", ")),
            UpstreamPolicy::Domains(table) => {
                for (i, (domain, address)) in table.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{domain}={address}")?;
                }
                Ok(())
            }
        }
    }
}

/// Parses a XEP-0124 §7.1 `route`: `xmpp:host:port`.
fn parse_route(route: &str) -> Option<HostPort> {
    let rest = route.trim().strip_prefix("xmpp:")?;
    rest.parse().ok()
}

// ---------------------------------------------------------------------------
// The connection task
// ---------------------------------------------------------------------------

/// The stream header values of one upstream stream.
#[derive(Debug, Clone)]
pub(crate) struct OpenParams {
    pub(crate) stream: StreamId,
    pub(crate) address: HostPort,
    pub(crate) to: String,
    pub(crate) from: Option<String>,
    pub(crate) xml_lang: Option<String>,
    /// The client's `xmpp:version`, or `1.0` when it sent none: a stream
    /// without `version` is a pre-1.0 stream that never sends features, and
    /// a BOSH client cannot use one.
    pub(crate) version: String,
}

impl OpenParams {
    pub(crate) fn version_of(v: Option<Version>) -> String {
        v.map_or_else(|| "1.0".to_owned(), |v| v.to_string())
    }
}

/// Limits of one upstream connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    pub(crate) connect_timeout: Duration,
    pub(crate) framer: FramerLimits,
    /// Most bytes queued for the server before the connection is given up.
    pub(crate) max_write_buffer: usize,
}

/// Longest time spent closing a stream (writing `</stream:stream>`).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Written bytes kept in the write buffer before it is compacted.
const COMPACT_AT: usize = 64 * 1024;

/// Reads per wake-up before yielding to other tasks.
const READS_PER_WAKE: usize = 16;
/// Bytes read per `read` call, into the thread's [`READ_SCRATCH`]: large
/// enough for most stanzas.
const READ_BUF: usize = 8 * 1024;

std::thread_local! {
    /// The read buffer of every upstream connection polled on this thread.
    /// A connection keeps no read buffer of its own (an idle one costs
    /// nothing; the framer keeps only an unfinished element), and a buffer
    /// on the stack would be zeroed on every poll of every connection, that
    /// is on every wake-up of every session.
    static READ_SCRATCH: std::cell::RefCell<[u8; READ_BUF]> =
        const { std::cell::RefCell::new([0; READ_BUF]) };
}

/// How an upstream connection ended.
#[derive(Debug)]
pub(crate) enum End {
    /// We closed it, as the session asked.
    Closed,
    /// The server closed it, it failed, or it could not be opened; the
    /// session is told [`UpstreamEvent::Closed`].
    Lost(String),
}

/// Where a connection is.
enum Phase {
    /// Connecting, until the deadline.
    Connecting {
        connect: BoxFuture<'static, io::Result<BoxStream>>,
        deadline: Pin<Box<dyn Timer>>,
    },
    /// Connected.
    Open(BoxStream),
}

/// One upstream connection (one stream) of a session, polled by the
/// session's own task: what the session's core asks of it is applied at
/// once, and what the server sends is framed into [`UpstreamEvent`]s for
/// the core, with no task or channel between them.
///
/// Elements delivered while it connects wait in its write buffer, after the
/// stream header.
pub(crate) struct Conn {
    phase: Phase,
    framer: StreamFramer,
    out: Vec<u8>,
    written: usize,
    closing: bool,
    /// Bounds the time spent writing `</stream:stream>` to a server that
    /// does not read.
    close_timer: Option<Pin<Box<dyn Timer>>>,
    rt: Arc<dyn Runtime>,
    max_write_buffer: usize,
    params: OpenParams,
}

impl Conn {
    /// Starts connecting (within `limits.connect_timeout`) and queues the
    /// stream header. Fails if the header's values cannot be written.
    pub(crate) fn open(
        rt: Arc<dyn Runtime>,
        params: OpenParams,
        limits: &ConnLimits,
    ) -> Result<Conn, bosh_core::xmpp::HeaderError> {
        let deadline = rt.timer(deadline_in(&*rt, limits.connect_timeout));
        let mut out = Vec::new();
        write_header(
            &mut out,
            &params,
            None,
            params.from.as_deref(),
            params.xml_lang.as_deref(),
        )?;
        let connect = rt.connect_tcp(&params.address.host, params.address.port);
        Ok(Conn {
            phase: Phase::Connecting { connect, deadline },
            framer: StreamFramer::new(limits.framer),
            out,
            written: 0,
            closing: false,
            close_timer: None,
            rt,
            max_write_buffer: limits.max_write_buffer,
            params,
        })
    }

    /// The stream this connection carries.
    pub(crate) fn stream(&self) -> StreamId {
        self.params.stream
    }

    /// The server this connection goes to.
    pub(crate) fn address(&self) -> &HostPort {
        &self.params.address
    }

    /// Queues elements for the server.
    pub(crate) fn deliver(&mut self, elements: Vec<Bytes>) {
        if self.closing {
            return;
        }
        for e in elements {
            self.out.extend_from_slice(&e);
        }
    }

    /// The XEP-0206 §5 restart: the framer expects a new stream from what
    /// is read next, and a new header is queued.
    pub(crate) fn restart(
        &mut self,
        to: Option<&str>,
        from: Option<&str>,
        lang: Option<&str>,
    ) -> Result<(), bosh_core::xmpp::HeaderError> {
        if self.closing {
            return Ok(());
        }
        self.framer.restart();
        write_header(&mut self.out, &self.params, to, from, lang)
    }

    /// Queues `</stream:stream>`; the connection closes once it is written
    /// (or after [`CLOSE_TIMEOUT`]). A connection still connecting is
    /// dropped at once: the server has seen nothing.
    pub(crate) fn close(&mut self) {
        if self.closing {
            return;
        }
        self.closing = true;
        if let Phase::Connecting { .. } = self.phase {
            return;
        }
        write_stream_close(&mut self.out);
        self.close_timer = Some(self.rt.timer(deadline_in(&*self.rt, CLOSE_TIMEOUT)));
    }

    /// Connects, writes, then reads; events from the server are appended to
    /// `events`. `Ready` once the connection has ended.
    ///
    /// Reads go on while a write waits, so a server that writes while we
    /// write cannot deadlock us. After [`READS_PER_WAKE`] reads it yields
    /// (and wakes itself), so one busy stream does not hold the task.
    pub(crate) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        events: &mut VecDeque<(StreamId, UpstreamEvent)>,
    ) -> Poll<End> {
        // Checked in every phase: what the client sends while the
        // connection is still being made is buffered too.
        if self.out.len() - self.written > self.max_write_buffer {
            return Poll::Ready(End::Lost(
                "more queued for the server than max_write_buffer".to_owned(),
            ));
        }
        if let Phase::Connecting { connect, deadline } = &mut self.phase {
            if self.closing {
                return Poll::Ready(End::Closed);
            }
            match connect.as_mut().poll(cx) {
                Poll::Ready(Ok(io)) => {
                    debug!(stream = self.params.stream.0, upstream = %self.params.address, "upstream connected");
                    self.phase = Phase::Open(io);
                }
                Poll::Ready(Err(e)) => {
                    warn!(stream = self.params.stream.0, upstream = %self.params.address, error = %e, "upstream connect failed");
                    return Poll::Ready(End::Lost(format!("connect failed: {e}")));
                }
                Poll::Pending => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        warn!(stream = self.params.stream.0, upstream = %self.params.address, "upstream connect timed out");
                        return Poll::Ready(End::Lost("connect timed out".to_owned()));
                    }
                    return Poll::Pending;
                }
            }
        }
        let Phase::Open(io) = &mut self.phase else {
            unreachable!("connected above");
        };
        // 1. Writes.
        while self.written < self.out.len() {
            match Pin::new(&mut *io).poll_write(cx, &self.out[self.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(End::Lost("write returned 0".to_owned())),
                Poll::Ready(Ok(n)) => self.written = (self.written + n).min(self.out.len()),
                Poll::Ready(Err(e)) => return Poll::Ready(End::Lost(format!("write failed: {e}"))),
                Poll::Pending => break,
            }
        }
        if self.written >= COMPACT_AT && self.written < self.out.len() {
            // Forget what was written so a server that reads slowly but
            // steadily does not make the buffer grow.
            self.out.drain(..self.written);
            self.written = 0;
        }
        if self.written == self.out.len() && !self.out.is_empty() {
            // All written: an idle connection keeps no write buffer.
            self.out = Vec::new();
            self.written = 0;
            if let Poll::Ready(Err(e)) = Pin::new(&mut *io).poll_flush(cx) {
                return Poll::Ready(End::Lost(format!("flush failed: {e}")));
            }
        }
        if self.closing {
            if let Some(t) = &mut self.close_timer
                && t.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(End::Closed);
            }
            if !self.out.is_empty() {
                return Poll::Pending;
            }
            return match Pin::new(&mut *io).poll_close(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(_) => Poll::Ready(End::Closed),
            };
        }
        // 2. Reads, into the thread's scratch buffer.
        let stream = self.params.stream;
        READ_SCRATCH.with_borrow_mut(|buf| {
            for _ in 0..READS_PER_WAKE {
                match Pin::new(&mut *io).poll_read(cx, buf) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(End::Lost(
                            "the server closed the connection".to_owned(),
                        ));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.framer.feed(&buf[..n.min(READ_BUF)]);
                        if let Some(end) = drain_framer(&mut self.framer, stream, events) {
                            return Poll::Ready(end);
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(End::Lost(format!("read failed: {e}")));
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            // Budget spent: yield, and come back at once.
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }
}

/// Moves every complete event out of `framer` into `events`; `Some` if the
/// stream has ended or is broken.
fn drain_framer(
    framer: &mut StreamFramer,
    stream: StreamId,
    events: &mut VecDeque<(StreamId, UpstreamEvent)>,
) -> Option<End> {
    loop {
        let event = match framer.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => return None,
            Err(e) => return Some(End::Lost(format!("the server's stream is broken: {e}"))),
        };
        let event = match event {
            StreamEvent::Opened(h) => UpstreamEvent::Opened {
                id: h.id,
                from: h.from,
                version: h.version.as_deref().and_then(|v| v.parse().ok()),
            },
            StreamEvent::Features(f) => UpstreamEvent::Features(f),
            StreamEvent::Stanza(s) => UpstreamEvent::Stanza(s.bytes),
            StreamEvent::Error(e) => UpstreamEvent::StreamError(e.bytes),
            StreamEvent::Closed => {
                return Some(End::Lost("the server closed the stream".to_owned()));
            }
            StreamEvent::Skipped { position, reason } => {
                // Relayed by the server from anyone: dropped, not fatal.
                warn!(
                    stream = stream.0,
                    position,
                    %reason,
                    "element from the server skipped: over the framer's limits"
                );
                continue;
            }
            _ => continue,
        };
        events.push_back((stream, event));
    }
}

/// Writes the stream header of `params`, with `to` (default: the one the
/// stream was opened with), `from` and `lang`, to `out`.
fn write_header(
    out: &mut Vec<u8>,
    params: &OpenParams,
    to: Option<&str>,
    from: Option<&str>,
    lang: Option<&str>,
) -> Result<(), bosh_core::xmpp::HeaderError> {
    StreamHeader {
        to: to.unwrap_or(&params.to),
        from,
        lang,
        version: Some(&params.version),
    }
    .write(out)
}

/// Finishes closing `conn` on its own task (the session that owned it has
/// ended): `</stream:stream>`, then the close, bounded by
/// [`CLOSE_TIMEOUT`].
pub(crate) async fn finish_closing(mut conn: Box<Conn>) {
    conn.close();
    let mut ignored = VecDeque::new();
    let end = std::future::poll_fn(|cx| {
        let end = conn.poll(cx, &mut ignored);
        ignored.clear();
        end
    })
    .await;
    debug!(
        stream = conn.params.stream.0,
        ?end,
        "upstream closed after its session"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::time::Instant;

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    /// A runtime whose connections and timers never complete: an upstream
    /// host that drops connection attempts silently.
    #[derive(Debug)]
    struct Blackhole;

    struct Never;

    impl Future for Never {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Pending
        }
    }

    impl Timer for Never {
        fn reset(self: Pin<&mut Self>, _: Instant) {}
    }

    impl Runtime for Blackhole {
        fn now(&self) -> Instant {
            Instant::now()
        }
        fn timer(&self, _: Instant) -> Pin<Box<dyn Timer>> {
            Box::pin(Never)
        }
        fn spawn(&self, _: BoxFuture<'static, ()>) {}
        fn connect_tcp(&self, _: &str, _: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
            Box::pin(std::future::pending())
        }
        fn bind_tcp(
            &self,
            _: std::net::SocketAddr,
        ) -> BoxFuture<'static, io::Result<Box<dyn crate::Listener>>> {
            Box::pin(std::future::pending())
        }
    }

    /// Found in review: the write buffer's limit was only checked once the
    /// connection was open, so a client could queue without bound while it
    /// was still being made (up to `upstream_connect_timeout`).
    #[test]
    fn the_write_buffer_limit_holds_while_connecting() {
        let params = OpenParams {
            stream: StreamId(0),
            address: hp("192.0.2.1:5222"),
            to: "example.com".into(),
            from: None,
            xml_lang: None,
            version: "1.0".into(),
        };
        let limits = ConnLimits {
            connect_timeout: Duration::from_secs(10),
            framer: FramerLimits::DEFAULT,
            max_write_buffer: 1 << 20,
        };
        let mut conn = Conn::open(Arc::new(Blackhole), params, &limits).unwrap();
        let mut events = VecDeque::new();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let chunk = Bytes::from(vec![b'x'; 600 * 1024]);
        conn.deliver(vec![chunk.clone()]);
        assert!(
            conn.poll(&mut cx, &mut events).is_pending(),
            "under the limit"
        );
        conn.deliver(vec![chunk]);
        assert!(
            matches!(conn.poll(&mut cx, &mut events), Poll::Ready(End::Lost(_))),
            "over the limit while connecting"
        );
    }

    #[test]
    fn host_port_parses_names_ipv4_and_bracketed_ipv6() {
        assert_eq!(
            hp("Example.com:5222"),
            HostPort {
                host: "example.com".into(),
                port: 5222
            }
        );
        assert_eq!(hp("127.0.0.1:1").port, 1);
        assert_eq!(hp("[::1]:5222").host, "::1");
        assert_eq!(hp("[::1]:5222").to_string(), "[::1]:5222");
        for bad in [
            "example.com",
            ":5222",
            "a:0",
            "a:65536",
            "a:x",
            "::1:5222",
            "[zz]:1",
            "a b:1",
            "a/b:1",
        ] {
            assert!(bad.parse::<HostPort>().is_err(), "{bad}");
        }
    }

    #[test]
    fn fixed_upstream_needs_to_and_checks_route_and_allowed_domains() {
        let any = UpstreamPolicy::Fixed {
            address: hp("127.0.0.1:5222"),
            allowed_domains: vec![],
        };
        assert_eq!(
            any.resolve(Some("anything.example"), None),
            Ok(hp("127.0.0.1:5222"))
        );
        assert_eq!(any.resolve(None, None), Err(Condition::ImproperAddressing));
        assert_eq!(
            any.resolve(Some(" "), None),
            Err(Condition::ImproperAddressing)
        );
        assert_eq!(
            any.resolve(Some("a"), Some("xmpp:127.0.0.1:5222")),
            Ok(hp("127.0.0.1:5222"))
        );
        assert_eq!(
            any.resolve(Some("a"), Some("xmpp:10.0.0.1:5222")),
            Err(Condition::HostUnknown)
        );
        assert_eq!(
            any.resolve(Some("a"), Some("http://x")),
            Err(Condition::ImproperAddressing)
        );
        let listed = UpstreamPolicy::Fixed {
            address: hp("127.0.0.1:5222"),
            allowed_domains: vec!["example.com".into()],
        };
        assert!(listed.resolve(Some("EXAMPLE.com"), None).is_ok());
        assert_eq!(
            listed.resolve(Some("evil.example"), None),
            Err(Condition::HostUnknown)
        );
    }

    #[test]
    fn domain_table_refuses_unknown_domains_and_foreign_routes() {
        let mut t = BTreeMap::new();
        t.insert("example.com".to_owned(), hp("127.0.0.1:5222"));
        t.insert("other.org".to_owned(), hp("xmpp.other.org:5222"));
        let p = UpstreamPolicy::Domains(t);
        assert_eq!(
            p.resolve(Some("other.org"), None),
            Ok(hp("xmpp.other.org:5222"))
        );
        assert_eq!(
            p.resolve(Some("example.com."), None),
            Ok(hp("127.0.0.1:5222"))
        );
        assert_eq!(
            p.resolve(Some("evil.example"), None),
            Err(Condition::HostUnknown)
        );
        assert_eq!(p.resolve(None, None), Err(Condition::ImproperAddressing));
        assert_eq!(
            p.resolve(Some("example.com"), Some("xmpp:xmpp.other.org:5222")),
            Err(Condition::HostUnknown)
        );
        assert!(
            p.resolve(Some("other.org"), Some("xmpp:XMPP.other.org:5222"))
                .is_ok()
        );
    }
}
