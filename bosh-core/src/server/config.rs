//! Connection-manager configuration, validated once (XEP-0124 §7.2, §10-§12,
//! §14).

use std::time::Duration;

use crate::body::{ParseLimits, Version};

/// Where a real client trips a SHOULD-terminate rule, log instead of
/// terminating. Each flag is on by default: the peer-server survey found that
/// deployed clients (Strophe.js among them) trip these rules in normal use,
/// and terminating costs the user their session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leniency {
    /// Overactivity (XEP-0124 §11, R11-2, R11-4) and too-frequent polling
    /// (§12, R12-4): report a [`Warning`](super::Warning) instead of
    /// terminating with `policy-violation`.
    pub overactivity: bool,
    /// A `pause` above `maxpause` (§10, R10-12, which the spec leaves open):
    /// clamp it to `maxpause` instead of terminating with `policy-violation`.
    pub pause_above_max: bool,
    /// A rid gap that never fills (§14.2, R14.2-5): after
    /// [`ServerConfig::rid_gap_timeout`], skip the missing rids and go on
    /// with the buffered requests instead of terminating with
    /// `item-not-found`. Skip them at once when the client shows it has
    /// given up on them (a process attached past a rid never sent): its
    /// `ack` covers them, or, without acks, it sends beyond the window while
    /// later rids are buffered.
    pub rid_gap: bool,
}

impl Default for Leniency {
    fn default() -> Self {
        Leniency {
            overactivity: true,
            pause_above_max: true,
            rid_gap: true,
        }
    }
}

impl Leniency {
    /// Every rule enforced as the XEP says: terminate.
    pub const STRICT: Leniency = Leniency {
        overactivity: false,
        pause_above_max: false,
        rid_gap: false,
    };
}

/// Connection-manager limits and advertised values. Build with
/// [`ServerConfig::default`] and struct update, then check with
/// [`ServerConfig::validate`] (the endpoint does it).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Longest `wait` granted, in seconds; a client asking for more gets this
    /// (R7.2-3). Default 60. Range 1..=3600.
    pub max_wait: u16,
    /// Most requests held, whatever the client asks (R7.2-7). Default 1.
    /// `requests` is always `hold + 1` (R7.2-4). Range 1..=16.
    pub max_hold: u8,
    /// `inactivity` advertised, in seconds (R7.2-5, R10-3); 0 advertises
    /// nothing and allows unlimited inactivity (R10-5). Default 60.
    pub inactivity: u16,
    /// `polling` advertised, in seconds (R7.2-5, R11-4, R12-4); 0 advertises
    /// nothing. Default 2.
    pub polling: u16,
    /// `maxpause` advertised, in seconds (R7.2-10); 0 disables pausing.
    /// Default 120.
    pub maxpause: u16,
    /// The highest protocol version supported; the creation response carries
    /// the lower of this and the client's (R7.2-6). Default 1.11.
    pub ver: Version,
    /// Parse limits for request bodies (size and depth).
    pub parse_limits: ParseLimits,
    /// Most live sessions in one endpoint. Default 10 000.
    pub max_sessions: usize,
    /// Most responses kept for replay when the client uses acks (R14.3-2);
    /// without acks, `requests` responses are kept. Default 32.
    pub max_replay: usize,
    /// Most times one rid may be repeated before `policy-violation`
    /// (R14.3-6). Default 8.
    pub max_repeats: u8,
    /// How long buffered requests wait for a missing rid (R14.2-5), from
    /// when the gap was first seen (aborted and resent early requests do not
    /// restart it). Default 75 s: longer than Strophe.js's 66 s retry at
    /// `wait` = 60, so a lost request is resent before the gap is given up
    /// on. With acks, a client that says it still waits for the missing rid
    /// keeps the gap open.
    pub rid_gap_timeout: Duration,
    /// How long a terminated session keeps answering replays of its last
    /// responses before it is forgotten (R14.3). Default 30 s.
    pub linger: Duration,
    /// Most payload elements queued for the client before the session is
    /// terminated with `undefined-condition` (a client that stopped
    /// polling must not grow memory without bound). Default 1000.
    pub max_queued_stanzas: usize,
    /// Most bytes of payload queued for the client (same reason). Default
    /// 1 MiB.
    pub max_queued_bytes: usize,
    /// Support for multiple streams (§16). Default true.
    pub multi_stream: bool,
    /// Most streams one session may open (each is an upstream connection);
    /// one more is a `policy-violation`. Default 4.
    pub max_streams: u32,
    /// Lenient handling of rules real clients trip.
    pub leniency: Leniency,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_wait: 60,
            max_hold: 1,
            inactivity: 60,
            polling: 2,
            maxpause: 120,
            ver: Version::new(1, 11),
            parse_limits: ParseLimits::default(),
            max_sessions: 10_000,
            max_replay: 32,
            max_repeats: 8,
            rid_gap_timeout: Duration::from_secs(75),
            linger: Duration::from_secs(30),
            max_queued_stanzas: 1000,
            max_queued_bytes: 1024 * 1024,
            multi_stream: true,
            max_streams: 4,
            leniency: Leniency::default(),
        }
    }
}

/// A configuration value out of its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The named setting is outside its range.
    #[error("{setting} must be {range} (got {value})")]
    OutOfRange {
        /// The setting.
        setting: &'static str,
        /// The allowed range.
        range: &'static str,
        /// The value given.
        value: String,
    },
}

fn check(
    ok: bool,
    setting: &'static str,
    range: &'static str,
    value: impl ToString,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            setting,
            range,
            value: value.to_string(),
        })
    }
}

impl ServerConfig {
    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            (1..=3600).contains(&self.max_wait),
            "max_wait",
            "1..=3600 seconds",
            self.max_wait,
        )?;
        check(
            (1..=16).contains(&self.max_hold),
            "max_hold",
            "1..=16",
            self.max_hold,
        )?;
        check(
            self.inactivity == 0 || self.inactivity >= 5,
            "inactivity",
            "0 (unlimited) or at least 5 seconds",
            self.inactivity,
        )?;
        check(
            self.polling <= 60,
            "polling",
            "0..=60 seconds",
            self.polling,
        )?;
        check(self.ver.major == 1, "ver", "1.x", self.ver)?;
        check(
            self.parse_limits.max_bytes >= 1024,
            "parse_limits.max_bytes",
            "at least 1024",
            self.parse_limits.max_bytes,
        )?;
        check(
            (4..=1024).contains(&self.parse_limits.max_depth),
            "parse_limits.max_depth",
            "4..=1024",
            self.parse_limits.max_depth,
        )?;
        check(
            self.max_sessions >= 1,
            "max_sessions",
            "at least 1",
            self.max_sessions,
        )?;
        check(
            (2..=4096).contains(&self.max_replay),
            "max_replay",
            "2..=4096",
            self.max_replay,
        )?;
        check(
            self.max_repeats >= 1,
            "max_repeats",
            "at least 1",
            self.max_repeats,
        )?;
        check(
            self.rid_gap_timeout >= Duration::from_secs(1)
                && self.rid_gap_timeout <= Duration::from_secs(3600),
            "rid_gap_timeout",
            "1 s..=1 h",
            format!("{:?}", self.rid_gap_timeout),
        )?;
        check(
            self.linger <= Duration::from_secs(3600),
            "linger",
            "at most 1 h",
            format!("{:?}", self.linger),
        )?;
        check(
            self.max_queued_stanzas >= 1,
            "max_queued_stanzas",
            "at least 1",
            self.max_queued_stanzas,
        )?;
        check(
            self.max_queued_bytes >= 64 * 1024,
            "max_queued_bytes",
            "at least 65536",
            self.max_queued_bytes,
        )?;
        check(
            (1..=64).contains(&self.max_streams),
            "max_streams",
            "1..=64",
            self.max_streams,
        )?;
        Ok(())
    }
}
