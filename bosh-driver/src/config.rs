//! Configuration: a TOML file and a matching command line, validated once at
//! start-up into [`Settings`].
//!
//! Every key of the file has a flag of the same name (`max_wait` is
//! `--max-wait`); a flag given on the command line overrides the file, and
//! a repeatable flag given at least once replaces the file's list. Unknown
//! keys are errors, so a typo is never silently ignored. Durations are whole
//! seconds.
//!
//! ```toml
//! listen = "127.0.0.1:5280"
//! path = "/http-bind"
//! # Either one fixed XMPP server ...
//! upstream = "127.0.0.1:5222"
//! allowed_domains = ["example.com"]   # optional: the `to` values accepted
//! # ... or a table of domains and where each one's server is:
//! # [domains]
//! # "example.com" = "127.0.0.1:5222"
//! allow_origins = ["https://app.example.com"]   # none: any origin (`*`)
//! allow_credentials = false
//! max_wait = 60
//! inactivity = 60
//! max_sessions = 10000
//! max_body = 1048576
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bosh_core::body::ParseLimits;
use bosh_core::server::{Leniency, ServerConfig};
use bosh_core::xmpp::FramerLimits;
use clap::Parser;
use cors_core::CorsPolicy;
use serde::{Deserialize, Serialize};

use crate::upstream::{ConnLimits, HostPort, UpstreamPolicy};

/// The configuration as written in the TOML file; see the [module
/// docs](self) and each field for the defaults and allowed ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The address the HTTP listener binds (`IP:PORT`). Default
    /// `127.0.0.1:5280`.
    pub listen: String,
    /// The BOSH path. Default `/http-bind`.
    pub path: String,
    /// The one XMPP server every session connects to (`HOST:PORT`). Default
    /// `127.0.0.1:5222` when `domains` is empty; not allowed together with
    /// `domains`.
    pub upstream: Option<String>,
    /// With `upstream`: the `to` domains accepted; empty accepts any (the
    /// connection still only ever goes to `upstream`).
    pub allowed_domains: Vec<String>,
    /// Instead of `upstream`: each allowed domain and the `HOST:PORT` of its
    /// XMPP server. A `to` not listed is refused with `host-unknown`.
    pub domains: BTreeMap<String, String>,
    /// Origins allowed to use the endpoint from a browser, exact
    /// (`https://app.example.com`) or patterns (`https://*.example.com`).
    /// Empty (or `"*"`) allows any origin with `Access-Control-Allow-Origin: *`.
    pub allow_origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth).
    /// Needs an explicit `allow_origins` list. Default false.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` of preflight answers, seconds, 0..=86400.
    /// Default 7200 (the Chromium cap).
    pub cors_max_age: u32,
    /// Most live sessions; further creation requests are refused. Default
    /// 10000.
    pub max_sessions: usize,
    /// Largest request body in bytes, 1024..=67108864; larger ones are
    /// refused with 413 before they are read. Default 1048576 (1 MiB).
    pub max_body: usize,
    /// Deepest XML nesting accepted in a request body, 4..=1024. Default 64.
    pub max_depth: usize,
    /// Longest `wait` granted, seconds, 1..=3600. Default 60.
    pub max_wait: u16,
    /// Most requests held per session (`hold`), 1..=16. Default 1.
    pub max_hold: u8,
    /// `inactivity` in seconds: 0 (unlimited) or 5..=65535. Default 60.
    pub inactivity: u16,
    /// `polling` in seconds, 0..=60. Default 2.
    pub polling: u16,
    /// `maxpause` in seconds: 0 disables pausing, otherwise 5..=65535.
    /// Default 120.
    pub maxpause: u16,
    /// Most responses kept for replay when the client acknowledges,
    /// 2..=4096. Default 32.
    pub max_replay: usize,
    /// Most times one rid may be repeated before `policy-violation`,
    /// 1..=255. Default 8.
    pub max_repeats: u8,
    /// Seconds buffered requests wait for a missing rid, 1..=3600. Default 75.
    pub rid_gap_timeout: u64,
    /// Seconds a terminated session keeps answering replays, 0..=3600.
    /// Default 30.
    pub linger: u64,
    /// Most stanzas queued for a client that does not poll before its
    /// session is ended. Default 1000.
    pub max_queued_stanzas: usize,
    /// Largest stanza accepted from the XMPP server, bytes,
    /// 1024..=67108864. Default 262144 (256 KiB). A larger one (or one
    /// nested deeper than 64) is skipped with a warning, and the session
    /// goes on. A session may queue four such stanzas (at least 1 MiB) for
    /// a client that is not polling.
    pub max_stanza: usize,
    /// Allow several streams per session (XEP-0124 §16). Default true.
    pub multi_stream: bool,
    /// Log overactivity instead of ending the session. Default true.
    pub lenient_overactivity: bool,
    /// Clamp a `pause` above `maxpause` instead of ending the session.
    /// Default true.
    pub lenient_pause: bool,
    /// Skip a rid gap that never fills instead of ending the session.
    /// Default true.
    pub lenient_rid_gap: bool,
    /// Largest request head (request line and header fields), in bytes,
    /// 1024..=1048576; larger heads are answered 431. Default 16384.
    pub max_header_bytes: usize,
    /// Most header fields in a request, 8..=256; more are answered 431.
    /// Default 100.
    pub max_headers: usize,
    /// Seconds a client has to send the request headers, 1..=600; also how
    /// long an idle keep-alive connection stays open. Default 30.
    pub header_read_timeout: u64,
    /// Seconds a client has to send the request body, 1..=600. Default 30.
    pub body_read_timeout: u64,
    /// Seconds a closing connection keeps reading (and discarding) what the
    /// client still sends after the last answer, 0..=60 (0: close at once).
    /// Default 2. See RFC 9112 §9.6.
    pub close_drain_timeout: u64,
    /// Seconds to connect to the XMPP server, 1..=300. Default 10.
    pub upstream_connect_timeout: u64,
    /// Seconds granted on shutdown for answers to be written, 1..=600.
    /// Default 10.
    pub shutdown_grace: u64,
    /// Also accept HTTP/2 over cleartext TCP with prior knowledge (h2c,
    /// RFC 9113 §3.3), for a reverse proxy that speaks it to its backends
    /// (Envoy, HAProxy, Caddy). The held requests of many sessions then
    /// share one connection, so a session costs one file descriptor (its
    /// XMPP connection) instead of two. HTTP/1.1 clients are served as
    /// before. Default false.
    pub http2: bool,
    /// Most concurrent streams (requests) a client may open on one HTTP/2
    /// connection, 1..=65535. Default 1024.
    pub http2_max_streams: u32,
}

impl Default for Config {
    fn default() -> Self {
        let core = ServerConfig::default();
        Config {
            listen: "127.0.0.1:5280".to_owned(),
            path: "/http-bind".to_owned(),
            upstream: None,
            allowed_domains: Vec::new(),
            domains: BTreeMap::new(),
            allow_origins: Vec::new(),
            allow_credentials: false,
            cors_max_age: cors_core::DEFAULT_MAX_AGE,
            max_sessions: core.max_sessions,
            max_body: core.parse_limits.max_bytes,
            max_depth: core.parse_limits.max_depth,
            max_wait: core.max_wait,
            max_hold: core.max_hold,
            inactivity: core.inactivity,
            polling: core.polling,
            maxpause: core.maxpause,
            max_replay: core.max_replay,
            max_repeats: core.max_repeats,
            rid_gap_timeout: core.rid_gap_timeout.as_secs(),
            linger: core.linger.as_secs(),
            max_queued_stanzas: core.max_queued_stanzas,
            max_stanza: FramerLimits::DEFAULT.max_stanza_bytes,
            multi_stream: core.multi_stream,
            lenient_overactivity: core.leniency.overactivity,
            lenient_pause: core.leniency.pause_above_max,
            lenient_rid_gap: core.leniency.rid_gap,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            header_read_timeout: 30,
            body_read_timeout: 30,
            close_drain_timeout: 2,
            upstream_connect_timeout: 10,
            shutdown_grace: 10,
            http2: false,
            http2_max_streams: 1024,
        }
    }
}

/// A configuration that cannot be used, with what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a wrong type.
    #[error("config file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A setting is out of range or malformed.
    #[error("invalid `{key}` (--{flag}): {message}", flag = key.replace('_', "-"))]
    Invalid {
        /// The TOML key.
        key: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The CORS settings contradict each other or name a malformed origin.
    #[error("invalid CORS settings (allow_origins / allow_credentials): {0}")]
    Cors(#[from] cors_core::ConfigError),
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

fn range<T: PartialOrd + std::fmt::Display>(
    key: &'static str,
    value: T,
    min: T,
    max: T,
    unit: &str,
) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(invalid(
            key,
            format!("must be {min}..={max}{unit} (got {value})"),
        ));
    }
    Ok(())
}

/// A validated configuration, ready to run. Built by [`Config::validate`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// The listener address.
    pub listen: SocketAddr,
    /// The BOSH path.
    pub path: String,
    /// The core's session limits and advertised values.
    pub server: ServerConfig,
    /// The CORS policy applied to every response.
    pub cors: CorsPolicy,
    /// Where sessions may connect.
    pub upstream: UpstreamPolicy,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Largest request head, in bytes (RFC 9112 §2.2; 431 beyond).
    pub max_header_bytes: usize,
    /// Most header fields in a request (431 beyond).
    pub max_headers: usize,
    /// Time to send the request headers; also how long an idle keep-alive
    /// connection stays open.
    pub header_read_timeout: Duration,
    /// Time to send the request body.
    pub body_read_timeout: Duration,
    /// Time a closing connection keeps discarding what the client still
    /// sends (RFC 9112 §9.6); zero closes at once.
    pub close_drain_timeout: Duration,
    /// Time to connect to the XMPP server.
    pub upstream_connect_timeout: Duration,
    /// Time granted on shutdown for answers to be written.
    pub shutdown_grace: Duration,
    /// Accept h2c with prior knowledge (RFC 9113 §3.3) besides HTTP/1.1.
    pub http2: bool,
    /// Most concurrent streams per HTTP/2 connection.
    pub http2_max_streams: u32,
    /// Limits of the upstream stream framing.
    pub framer: FramerLimits,
}

impl Settings {
    pub(crate) fn conn_limits(&self) -> ConnLimits {
        ConnLimits {
            connect_timeout: self.upstream_connect_timeout,
            framer: self.framer,
            max_write_buffer: self.max_body.saturating_mul(4).max(1 << 20),
        }
    }
}

impl Config {
    /// Reads a TOML file; keys it does not set keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text; the error is the parser's message.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot serialize: {e}\n"))
    }

    /// Checks every setting and builds the [`Settings`]; the first problem
    /// found is returned with the key, the flag and the allowed range.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!(
                    "`{}` is not an IP:PORT address (e.g. 127.0.0.1:5280 or [::]:5280)",
                    self.listen
                ),
            )
        })?;
        if !self.path.starts_with('/')
            || self
                .path
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'?' || b == b'#')
        {
            return Err(invalid(
                "path",
                format!(
                    "`{}` must start with `/` and contain no spaces, `?` or `#`",
                    self.path
                ),
            ));
        }
        range("max_sessions", self.max_sessions, 1, 10_000_000, "")?;
        range("max_body", self.max_body, 1024, 64 << 20, " bytes")?;
        range("max_depth", self.max_depth, 4, 1024, "")?;
        range("max_wait", self.max_wait, 1, 3600, " seconds")?;
        range("max_hold", self.max_hold, 1, 16, "")?;
        if self.inactivity != 0 && self.inactivity < 5 {
            return Err(invalid(
                "inactivity",
                format!(
                    "must be 0 (unlimited) or at least 5 seconds (got {})",
                    self.inactivity
                ),
            ));
        }
        range("polling", self.polling, 0, 60, " seconds")?;
        if self.maxpause != 0 {
            // Below 5 s a paused session would time out sooner than an
            // active one may (`inactivity` is at least 5 s).
            range("maxpause", self.maxpause, 5, u16::MAX, " seconds (or 0)")?;
        }
        range(
            "cors_max_age",
            self.cors_max_age,
            0,
            cors_core::MAX_MAX_AGE,
            " seconds",
        )?;
        range("max_replay", self.max_replay, 2, 4096, "")?;
        range("max_repeats", self.max_repeats, 1, u8::MAX, "")?;
        range("rid_gap_timeout", self.rid_gap_timeout, 1, 3600, " seconds")?;
        range("linger", self.linger, 0, 3600, " seconds")?;
        range(
            "max_queued_stanzas",
            self.max_queued_stanzas,
            1,
            1_000_000,
            "",
        )?;
        range("max_stanza", self.max_stanza, 1024, 64 << 20, " bytes")?;
        range(
            "max_header_bytes",
            self.max_header_bytes,
            1024,
            1 << 20,
            " bytes",
        )?;
        range(
            "max_headers",
            self.max_headers,
            8,
            crate::http1::MAX_HEADERS_CAP,
            "",
        )?;
        range(
            "header_read_timeout",
            self.header_read_timeout,
            1,
            600,
            " seconds",
        )?;
        range(
            "body_read_timeout",
            self.body_read_timeout,
            1,
            600,
            " seconds",
        )?;
        range(
            "close_drain_timeout",
            self.close_drain_timeout,
            0,
            60,
            " seconds",
        )?;
        range(
            "upstream_connect_timeout",
            self.upstream_connect_timeout,
            1,
            300,
            " seconds",
        )?;
        // At least a second: with none, the process exits before a session
        // task has written its `system-shutdown` answers.
        range("shutdown_grace", self.shutdown_grace, 1, 600, " seconds")?;
        range(
            "http2_max_streams",
            self.http2_max_streams,
            1,
            u32::from(u16::MAX),
            "",
        )?;
        let upstream = self.upstream_policy()?;
        let cors = self.cors_policy()?;

        let server = ServerConfig {
            max_wait: self.max_wait,
            max_hold: self.max_hold,
            inactivity: self.inactivity,
            polling: self.polling,
            maxpause: self.maxpause,
            parse_limits: ParseLimits {
                max_bytes: self.max_body,
                max_depth: self.max_depth,
            },
            max_sessions: self.max_sessions,
            max_replay: self.max_replay,
            max_repeats: self.max_repeats,
            rid_gap_timeout: Duration::from_secs(self.rid_gap_timeout),
            linger: Duration::from_secs(self.linger),
            max_queued_stanzas: self.max_queued_stanzas,
            // Every stanza from the server is queued before it is sent, so
            // the queue holds at least a few of the largest allowed (a
            // `max_stanza` over the core's 1 MiB default used to end the
            // session at the first such stanza).
            max_queued_bytes: ServerConfig::default()
                .max_queued_bytes
                .max(self.max_stanza.saturating_mul(4)),
            multi_stream: self.multi_stream,
            leniency: Leniency {
                overactivity: self.lenient_overactivity,
                pause_above_max: self.lenient_pause,
                rid_gap: self.lenient_rid_gap,
            },
            ..ServerConfig::default()
        };
        // Our ranges are at least as strict as the core's; this is a guard.
        server
            .validate()
            .map_err(|e| invalid("server", e.to_string()))?;

        Ok(Settings {
            listen,
            path: self.path.clone(),
            server,
            cors,
            upstream,
            max_body: self.max_body,
            max_header_bytes: self.max_header_bytes,
            max_headers: self.max_headers,
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            body_read_timeout: Duration::from_secs(self.body_read_timeout),
            close_drain_timeout: Duration::from_secs(self.close_drain_timeout),
            upstream_connect_timeout: Duration::from_secs(self.upstream_connect_timeout),
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            http2: self.http2,
            http2_max_streams: self.http2_max_streams,
            framer: FramerLimits {
                max_stanza_bytes: self.max_stanza,
                ..FramerLimits::DEFAULT
            },
        })
    }

    fn upstream_policy(&self) -> Result<UpstreamPolicy, ConfigError> {
        if !self.domains.is_empty() {
            if self.upstream.is_some() {
                return Err(invalid(
                    "upstream",
                    "give either `upstream` (one XMPP server) or `domains` (a table of \
                     domains), not both",
                ));
            }
            if !self.allowed_domains.is_empty() {
                return Err(invalid(
                    "allowed_domains",
                    "only applies to a fixed `upstream`; with `domains` the table itself \
                     lists the allowed domains",
                ));
            }
            let mut table = BTreeMap::new();
            for (domain, address) in &self.domains {
                let domain = check_domain("domains", domain)?;
                let address: HostPort = address.parse().map_err(|e| {
                    invalid("domains", format!("address `{address}` of `{domain}`: {e}"))
                })?;
                if table.insert(domain.clone(), address).is_some() {
                    return Err(invalid(
                        "domains",
                        format!("`{domain}` is listed twice (domains compare case-insensitively)"),
                    ));
                }
            }
            return Ok(UpstreamPolicy::Domains(table));
        }
        let raw = self.upstream.as_deref().unwrap_or("127.0.0.1:5222");
        let address: HostPort = raw
            .parse()
            .map_err(|e| invalid("upstream", format!("`{raw}`: {e}")))?;
        let allowed_domains = self
            .allowed_domains
            .iter()
            .map(|d| check_domain("allowed_domains", d))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(UpstreamPolicy::Fixed {
            address,
            allowed_domains,
        })
    }

    fn cors_policy(&self) -> Result<CorsPolicy, ConfigError> {
        let any = self.allow_origins.is_empty()
            || (self.allow_origins.len() == 1 && self.allow_origins[0] == "*");
        let methods = ["GET", "POST", "OPTIONS"];
        let mut b = CorsPolicy::builder()
            .allow_methods(methods)
            .allow_header("Content-Type")
            .allow_credentials(self.allow_credentials)
            .max_age(self.cors_max_age)
            // 200, not 204: hyper (rightly) strips `Content-Length` from a
            // 204, and old Safari waits for a body on a preflight without
            // `Content-Length: 0` (cors-core docs; express `cors` 2.8.4).
            .preflight_status(200);
        if any {
            b = b.allow_any_origin();
        } else {
            for origin in &self.allow_origins {
                b = if origin.contains("://*.") {
                    b.allow_origin_pattern(origin.clone())
                } else {
                    b.allow_origin(origin.clone())
                };
            }
        }
        Ok(b.build()?)
    }
}

fn check_domain(key: &'static str, domain: &str) -> Result<String, ConfigError> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !ok {
        return Err(invalid(
            key,
            format!("`{domain}` is not a domain name (e.g. example.com)"),
        ));
    }
    Ok(d)
}

/// The command line of `bosh-cm`: every configuration key as a flag, plus
/// `--config FILE`. Flags override the file.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "bosh-cm",
    version,
    about = "BOSH (XEP-0124/XEP-0206) connection manager: XMPP over HTTP long-polling, with CORS",
    long_about = "BOSH (XEP-0124/XEP-0206) connection manager: XMPP over HTTP long-polling, \
                  with CORS.\n\nWith no arguments it listens on 127.0.0.1:5280 at /http-bind \
                  and relays to the XMPP server at 127.0.0.1:5222. Settings come from the \
                  defaults, then --config FILE (TOML, same key names with `_`), then the flags. \
                  Logging is controlled with RUST_LOG (e.g. RUST_LOG=bosh_driver=debug).\n\n\
                  The connection manager only ever connects to the configured upstream \
                  address(es): a `to` or `route` outside them is refused."
)]
pub struct Cli {
    /// Read settings from this TOML file (flags override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Address to listen on [default: 127.0.0.1:5280].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// URL path of the BOSH endpoint [default: /http-bind].
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// The XMPP server every session connects to [default: 127.0.0.1:5222].
    #[arg(long, value_name = "HOST:PORT")]
    pub upstream: Option<String>,
    /// With --upstream: a `to` domain to accept (repeatable; none: any).
    #[arg(long = "allowed-domain", value_name = "DOMAIN")]
    pub allowed_domains: Vec<String>,
    /// Instead of --upstream: an allowed domain and its XMPP server
    /// (repeatable).
    #[arg(long = "domain", value_name = "DOMAIN=HOST:PORT")]
    pub domains: Vec<String>,
    /// An origin allowed to use the endpoint from a browser, exact or
    /// `https://*.example.com` (repeatable; none means any origin).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Allow credentialed CORS requests (needs --allow-origin).
    #[arg(long)]
    pub allow_credentials: bool,
    /// Access-Control-Max-Age of preflight answers [default: 7200].
    #[arg(long, value_name = "SECS")]
    pub cors_max_age: Option<u32>,
    /// Longest `wait` granted to clients [default: 60].
    #[arg(long, value_name = "SECS")]
    pub max_wait: Option<u16>,
    /// Most requests held per session [default: 1].
    #[arg(long, value_name = "N")]
    pub max_hold: Option<u8>,
    /// Session inactivity timeout; 0 for none [default: 60].
    #[arg(long, value_name = "SECS")]
    pub inactivity: Option<u16>,
    /// Shortest interval between empty polls [default: 2].
    #[arg(long, value_name = "SECS")]
    pub polling: Option<u16>,
    /// Longest pause a client may ask for; 0 disables pausing [default: 120].
    #[arg(long, value_name = "SECS")]
    pub maxpause: Option<u16>,
    /// Most live sessions [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_sessions: Option<usize>,
    /// Largest request body [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub max_body: Option<usize>,
    /// Deepest XML nesting in a request body [default: 64].
    #[arg(long, value_name = "N")]
    pub max_depth: Option<usize>,
    /// Responses kept for replay when the client acknowledges [default: 32].
    #[arg(long, value_name = "N")]
    pub max_replay: Option<usize>,
    /// Repeats of one rid before policy-violation [default: 8].
    #[arg(long, value_name = "N")]
    pub max_repeats: Option<u8>,
    /// How long buffered requests wait for a missing rid [default: 75].
    #[arg(long, value_name = "SECS")]
    pub rid_gap_timeout: Option<u64>,
    /// How long a terminated session still answers replays [default: 30].
    #[arg(long, value_name = "SECS")]
    pub linger: Option<u64>,
    /// Stanzas queued for a silent client before its session ends
    /// [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_queued_stanzas: Option<usize>,
    /// Largest stanza accepted from the XMPP server [default: 262144].
    #[arg(long, value_name = "BYTES")]
    pub max_stanza: Option<usize>,
    /// Allow several streams per session [default: true].
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub multi_stream: Option<bool>,
    /// Log overactivity instead of ending the session [default: true].
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub lenient_overactivity: Option<bool>,
    /// Clamp a pause above maxpause instead of ending the session
    /// [default: true].
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub lenient_pause: Option<bool>,
    /// Skip a rid gap that never fills instead of ending the session
    /// [default: true].
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub lenient_rid_gap: Option<bool>,
    /// Largest request head (request line and header fields); larger heads
    /// are answered 431 [default: 16384].
    #[arg(long, value_name = "BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Most header fields in a request; more are answered 431
    /// [default: 100].
    #[arg(long, value_name = "N")]
    pub max_headers: Option<usize>,
    /// Time a client has to send the request headers, and that an idle
    /// keep-alive connection stays open [default: 30].
    #[arg(long, value_name = "SECS")]
    pub header_read_timeout: Option<u64>,
    /// Time a client has to send the request body [default: 30].
    #[arg(long, value_name = "SECS")]
    pub body_read_timeout: Option<u64>,
    /// Time a closing connection keeps discarding what the client still
    /// sends, so that it reads the answer (RFC 9112 §9.6); 0 closes at
    /// once [default: 2].
    #[arg(long, value_name = "SECS")]
    pub close_drain_timeout: Option<u64>,
    /// Time to connect to the XMPP server [default: 10].
    #[arg(long, value_name = "SECS")]
    pub upstream_connect_timeout: Option<u64>,
    /// Time granted on shutdown for answers to be written [default: 10].
    #[arg(long, value_name = "SECS")]
    pub shutdown_grace: Option<u64>,
    /// Also accept HTTP/2 over cleartext with prior knowledge (h2c), for a
    /// reverse proxy that speaks it to its backends [default: false].
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub http2: Option<bool>,
    /// Most concurrent streams per HTTP/2 connection [default: 1024].
    #[arg(long, value_name = "N")]
    pub http2_max_streams: Option<u32>,
}

impl Cli {
    /// The configuration: the defaults, then `--config FILE`, then the flags.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut c = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($($field:ident),* $(,)?) => {
                $( if let Some(v) = &self.$field { c.$field = v.clone(); } )*
            };
        }
        set!(
            listen,
            path,
            cors_max_age,
            max_wait,
            max_hold,
            inactivity,
            polling,
            maxpause,
            max_sessions,
            max_body,
            max_depth,
            max_replay,
            max_repeats,
            rid_gap_timeout,
            linger,
            max_queued_stanzas,
            max_stanza,
            multi_stream,
            lenient_overactivity,
            lenient_pause,
            lenient_rid_gap,
            max_header_bytes,
            max_headers,
            header_read_timeout,
            body_read_timeout,
            close_drain_timeout,
            upstream_connect_timeout,
            shutdown_grace,
            http2,
            http2_max_streams,
        );
        if self.upstream.is_some() {
            c.upstream = self.upstream.clone();
        }
        if !self.allowed_domains.is_empty() {
            c.allowed_domains = self.allowed_domains.clone();
        }
        if !self.domains.is_empty() {
            c.domains = BTreeMap::new();
            for entry in &self.domains {
                let (domain, address) = entry.split_once('=').ok_or_else(|| {
                    invalid(
                        "domains",
                        format!(
                            "`{entry}` must be DOMAIN=HOST:PORT (e.g. example.com=127.0.0.1:5222)"
                        ),
                    )
                })?;
                c.domains
                    .insert(domain.trim().to_owned(), address.trim().to_owned());
            }
        }
        if !self.allow_origins.is_empty() {
            c.allow_origins = self.allow_origins.clone();
        }
        if self.allow_credentials {
            c.allow_credentials = true;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut v = vec!["bosh-cm"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).unwrap()
    }

    #[test]
    fn defaults_validate_and_match_the_documented_values() {
        let s = Config::default().validate().unwrap();
        assert_eq!(s.listen, "127.0.0.1:5280".parse().unwrap());
        assert_eq!(s.path, "/http-bind");
        assert_eq!(
            s.upstream,
            UpstreamPolicy::Fixed {
                address: "127.0.0.1:5222".parse().unwrap(),
                allowed_domains: vec![]
            }
        );
        assert!(!s.cors.varies_on_origin());
        assert!(!s.cors.allows_credentials());
        assert_eq!(s.close_drain_timeout, Duration::from_secs(2));
    }

    #[test]
    fn flags_override_the_file_and_lists_replace_it() {
        let dir = std::env::temp_dir().join(format!("bosh-driver-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cm.toml");
        std::fs::write(
            &file,
            "max_wait = 30\ninactivity = 20\nallow_origins = [\"https://a.example\"]\n",
        )
        .unwrap();
        let c = cli(&[
            "--config",
            file.to_str().unwrap(),
            "--max-wait",
            "10",
            "--allow-origin",
            "https://b.example",
            "--allow-origin",
            "https://*.c.example",
        ])
        .load()
        .unwrap();
        assert_eq!(c.max_wait, 10);
        assert_eq!(c.inactivity, 20);
        assert_eq!(
            c.allow_origins,
            ["https://b.example", "https://*.c.example"]
        );
        let s = c.validate().unwrap();
        assert!(s.cors.allows_origin("https://x.c.example"));
        assert!(!s.cors.allows_origin("https://a.example"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn unknown_keys_and_bad_types_are_parse_errors_with_the_key() {
        let e = Config::from_toml("max_wiat = 3\n").unwrap_err();
        assert!(e.contains("max_wiat"), "{e}");
        let e = Config::from_toml("max_wait = \"x\"\n").unwrap_err();
        assert!(e.contains("max_wait"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_the_key_the_flag_and_the_range() {
        let c = Config {
            max_wait: 0,
            ..Config::default()
        };
        let msg = c.validate().unwrap_err().to_string();
        assert_eq!(
            msg,
            "invalid `max_wait` (--max-wait): must be 1..=3600 seconds (got 0)"
        );
        let c = Config {
            inactivity: 3,
            ..Config::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("at least 5 seconds")
        );
        let c = Config {
            listen: "localhost".into(),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("--listen"));
        let c = Config {
            path: "http-bind".into(),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("--path"));
        let c = Config {
            close_drain_timeout: 61,
            ..Config::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid `close_drain_timeout` (--close-drain-timeout): must be 0..=60 seconds (got 61)"
        );
    }

    /// Found in review: each of these was accepted and could not work.
    #[test]
    fn limits_that_could_not_work_are_refused_or_made_to_fit() {
        for (c, key) in [
            (
                Config {
                    shutdown_grace: 0,
                    ..Config::default()
                },
                "shutdown_grace",
            ),
            (
                Config {
                    maxpause: 4,
                    ..Config::default()
                },
                "maxpause",
            ),
        ] {
            let msg = c.validate().unwrap_err().to_string();
            assert!(msg.contains(key), "{msg}");
        }
        let no_pause = Config {
            maxpause: 0,
            ..Config::default()
        };
        assert!(no_pause.validate().is_ok());
        // The session's queue takes stanzas as large as max_stanza allows.
        let big = Config {
            max_stanza: 4 << 20,
            ..Config::default()
        }
        .validate()
        .unwrap();
        assert!(big.server.max_queued_bytes >= 4 * (4 << 20));
        let default = Config::default().validate().unwrap();
        assert_eq!(
            default.server.max_queued_bytes,
            ServerConfig::default().max_queued_bytes
        );
    }

    #[test]
    fn credentials_with_any_origin_is_refused() {
        let c = Config {
            allow_credentials: true,
            ..Config::default()
        };
        let e = c.validate().unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Cors(cors_core::ConfigError::CredentialsWithAnyOrigin)
        ));
        assert!(e.to_string().contains("allow_credentials"), "{e}");
    }

    #[test]
    fn malformed_origins_are_refused() {
        for bad in [
            "https://app.example.com/",
            "app.example.com",
            "HTTPS://A.EXAMPLE",
        ] {
            let c = Config {
                allow_origins: vec![bad.into()],
                ..Config::default()
            };
            assert!(matches!(c.validate(), Err(ConfigError::Cors(_))), "{bad}");
        }
        let c = Config {
            allow_origins: vec!["*".into(), "https://a.example".into()],
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn credentials_with_an_origin_list_echo_and_vary() {
        let c = Config {
            allow_credentials: true,
            allow_origins: vec!["https://app.example.com".into()],
            ..Config::default()
        };
        let s = c.validate().unwrap();
        assert!(s.cors.allows_credentials());
        assert!(s.cors.varies_on_origin());
    }

    #[test]
    fn upstream_and_domains_are_exclusive_and_checked() {
        let mut domains = BTreeMap::new();
        domains.insert("Example.com".to_owned(), "127.0.0.1:5222".to_owned());
        let c = Config {
            upstream: Some("127.0.0.1:5222".into()),
            domains: domains.clone(),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("not both"));
        let c = Config {
            domains,
            ..Config::default()
        };
        let s = c.validate().unwrap();
        assert!(matches!(&s.upstream, UpstreamPolicy::Domains(t) if t.contains_key("example.com")));
        let c = Config {
            upstream: Some("127.0.0.1".into()),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("--upstream"));
        let c = cli(&["--domain", "example.com"]).load();
        assert!(c.unwrap_err().to_string().contains("DOMAIN=HOST:PORT"));
    }

    #[test]
    fn the_printed_config_parses_back_to_the_same() {
        let c = cli(&[
            "--domain",
            "example.com=127.0.0.1:5222",
            "--max-body",
            "4096",
        ])
        .load()
        .unwrap();
        assert_eq!(Config::from_toml(&c.to_toml()).unwrap(), c);
    }
}
