//! Exported session state, for attaching another process to a session
//! (Strophe's `attach` and `restore`, server-side pre-binding).

use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::body::Version;
use crate::rid::Rid;

/// What another process needs to continue a session (Strophe's
/// `attach(jid, sid, rid, …, wait, hold, wind)`), from
/// [`ClientSession::export`](super::ClientSession::export) and given to
/// [`ClientSession::attach`](super::ClientSession::attach).
///
/// # String form
///
/// [`Display`](fmt::Display) and [`FromStr`] use `key=value` pairs joined by
/// `&`, values percent-encoded (every byte other than `A-Z a-z 0-9 - . _ ~`
/// becomes `%XX`), so a browser can read it with `URLSearchParams`:
///
/// ```text
/// v=1&sid=SomeSID&rid=1573741825&wait=60&hold=1&requests=2&jid=juliet%40example.com%2Fbalcony
/// ```
///
/// | key | value | |
/// |---|---|---|
/// | `v` | format version, `1` | required, first |
/// | `sid` | [`SessionState::sid`] | required |
/// | `rid` | [`SessionState::rid`], the next rid to send | required |
/// | `wait`, `hold`, `requests` | decimal | required |
/// | `jid` | [`SessionState::jid`] | optional |
/// | `ver` | `major.minor` | optional |
/// | `polling`, `inactivity`, `maxpause` | decimal seconds | optional |
/// | `acks` | `1` if the connection manager uses acks | optional |
/// | `stream` | first stream name | optional |
/// | `keyseed`, `keylen`, `keyleft` | [`KeyState`]: seed as lower-case hex, decimal | all three or none |
///
/// Parsing accepts the pairs in any order, decodes `+` as a space, ignores
/// unknown keys (later additions) and rejects duplicates.
///
/// The key seed is a secret: whoever has it can continue the key sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionState {
    /// The session id (XEP-0124 §7.2).
    pub sid: String,
    /// The rid of the next request to send (XEP-0124 §14.1). Every response
    /// to a lower rid counts as received.
    pub rid: Rid,
    /// `wait` in seconds (§7.2).
    pub wait: u16,
    /// `hold` (§7.2).
    pub hold: u8,
    /// `requests` (§7.2, §11).
    pub requests: u8,
    /// The bound JID, if known (set with
    /// [`ClientSession::set_jid`](super::ClientSession::set_jid)).
    pub jid: Option<String>,
    /// The connection manager's `ver`; `None` for a legacy one (§17.1).
    pub ver: Option<Version>,
    /// `polling` in seconds (§12).
    pub polling: Option<u16>,
    /// `inactivity` in seconds (§10).
    pub inactivity: Option<u16>,
    /// `maxpause` in seconds (§10).
    pub maxpause: Option<u16>,
    /// Whether the connection manager uses acks (§9.1).
    pub acks: bool,
    /// The first stream's name, if the connection manager supports multiple
    /// streams (§16.2).
    pub stream: Option<String>,
    /// Where the key sequence stands, if one is in use (§15).
    pub keys: Option<KeyState>,
}

impl SessionState {
    /// A state with `sid` and the next `rid`, `wait` 60, `hold` 1,
    /// `requests` 2, and nothing else (what Strophe's `attach` needs).
    pub fn new(sid: impl Into<String>, rid: Rid) -> SessionState {
        SessionState {
            sid: sid.into(),
            rid,
            wait: 60,
            hold: 1,
            requests: 2,
            jid: None,
            ver: None,
            polling: None,
            inactivity: None,
            maxpause: None,
            acks: false,
            stream: None,
            keys: None,
        }
    }
}

/// Where a key sequence stands (XEP-0124 §15): enough to rebuild it with
/// [`KeyChain::resume`](crate::keys::KeyChain::resume). `Debug` hides the seed.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyState {
    /// The secret seed of the current chain.
    pub seed: Vec<u8>,
    /// The chain length `n`.
    pub len: u32,
    /// How many keys are still to be sent: the next request carries
    /// K(`remaining`).
    pub remaining: u32,
}

impl KeyState {
    /// A key state.
    pub fn new(seed: Vec<u8>, len: u32, remaining: u32) -> KeyState {
        KeyState {
            seed,
            len,
            remaining,
        }
    }
}

impl fmt::Debug for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyState")
            .field("len", &self.len)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

/// Why a string is not a [`SessionState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseStateError {
    /// A pair without `=`, or a bad `%` escape, or a value that is not UTF-8.
    #[error("malformed pair or escape")]
    Malformed,
    /// A key appears twice.
    #[error("duplicate key {0:?}")]
    Duplicate(String),
    /// A required key is missing.
    #[error("missing key {0}")]
    Missing(&'static str),
    /// A value is out of range.
    #[error("invalid value for {0}")]
    Invalid(&'static str),
    /// `v` is not `1`.
    #[error("unsupported format version")]
    UnsupportedVersion,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn encode(value: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(s: &str) -> Result<String, ParseStateError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(ParseStateError::Malformed);
                };
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ParseStateError::Malformed)
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(hex_value(p[0])? << 4 | hex_value(p[1])?))
        .collect()
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let mut pair = |key: &str, value: &[u8]| {
            if !s.is_empty() {
                s.push('&');
            }
            s.push_str(key);
            s.push('=');
            encode(value, &mut s);
        };
        pair("v", b"1");
        pair("sid", self.sid.as_bytes());
        pair("rid", self.rid.to_string().as_bytes());
        pair("wait", self.wait.to_string().as_bytes());
        pair("hold", self.hold.to_string().as_bytes());
        pair("requests", self.requests.to_string().as_bytes());
        if let Some(jid) = &self.jid {
            pair("jid", jid.as_bytes());
        }
        if let Some(ver) = self.ver {
            pair("ver", ver.to_string().as_bytes());
        }
        for (key, value) in [
            ("polling", self.polling),
            ("inactivity", self.inactivity),
            ("maxpause", self.maxpause),
        ] {
            if let Some(v) = value {
                pair(key, v.to_string().as_bytes());
            }
        }
        if self.acks {
            pair("acks", b"1");
        }
        if let Some(stream) = &self.stream {
            pair("stream", stream.as_bytes());
        }
        if let Some(k) = &self.keys {
            let mut seed = String::with_capacity(k.seed.len() * 2);
            for b in &k.seed {
                // Writing into a String cannot fail.
                let _ = write!(seed, "{b:02x}");
            }
            pair("keyseed", seed.as_bytes());
            pair("keylen", k.len.to_string().as_bytes());
            pair("keyleft", k.remaining.to_string().as_bytes());
        }
        f.write_str(&s)
    }
}

const KNOWN: [&str; 16] = [
    "v",
    "sid",
    "rid",
    "wait",
    "hold",
    "requests",
    "jid",
    "ver",
    "polling",
    "inactivity",
    "maxpause",
    "acks",
    "stream",
    "keyseed",
    "keylen",
    "keyleft",
];

impl FromStr for SessionState {
    type Err = ParseStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut values: [Option<String>; KNOWN.len()] = Default::default();
        for part in s.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or(ParseStateError::Malformed)?;
            let key = decode(k)?;
            let value = decode(v)?;
            let Some(index) = KNOWN.iter().position(|&n| n == key) else {
                continue;
            };
            if values[index].is_some() {
                return Err(ParseStateError::Duplicate(key));
            }
            values[index] = Some(value);
        }
        let mut take = |name: &'static str| -> Option<String> {
            let index = KNOWN.iter().position(|&n| n == name)?;
            values[index].take()
        };
        let required =
            |v: Option<String>, name: &'static str| v.ok_or(ParseStateError::Missing(name));
        fn number<T: FromStr>(v: &str, name: &'static str) -> Result<T, ParseStateError> {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseStateError::Invalid(name));
            }
            v.parse().map_err(|_| ParseStateError::Invalid(name))
        }
        fn optional<T: FromStr>(
            v: Option<String>,
            name: &'static str,
        ) -> Result<Option<T>, ParseStateError> {
            v.map(|v| number(&v, name)).transpose()
        }

        if required(take("v"), "v")? != "1" {
            return Err(ParseStateError::UnsupportedVersion);
        }
        let sid = required(take("sid"), "sid")?;
        if sid.is_empty() {
            return Err(ParseStateError::Invalid("sid"));
        }
        let rid = Rid::new(number(&required(take("rid"), "rid")?, "rid")?)
            .ok_or(ParseStateError::Invalid("rid"))?;
        let wait = number(&required(take("wait"), "wait")?, "wait")?;
        let hold = number(&required(take("hold"), "hold")?, "hold")?;
        let requests = number(&required(take("requests"), "requests")?, "requests")?;
        let jid = take("jid");
        let ver = take("ver")
            .map(|v| v.parse::<Version>())
            .transpose()
            .map_err(|_| ParseStateError::Invalid("ver"))?;
        let polling = optional(take("polling"), "polling")?;
        let inactivity = optional(take("inactivity"), "inactivity")?;
        let maxpause = optional(take("maxpause"), "maxpause")?;
        let acks = match take("acks").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(ParseStateError::Invalid("acks")),
        };
        let stream = take("stream");
        let keys = match (take("keyseed"), take("keylen"), take("keyleft")) {
            (None, None, None) => None,
            (Some(seed), Some(len), Some(left)) => Some(KeyState {
                seed: hex_bytes(&seed).ok_or(ParseStateError::Invalid("keyseed"))?,
                len: number(&len, "keylen")?,
                remaining: number(&left, "keyleft")?,
            }),
            _ => return Err(ParseStateError::Missing("keyseed, keylen and keyleft")),
        };
        Ok(SessionState {
            sid,
            rid,
            wait,
            hold,
            requests,
            jid,
            ver,
            polling,
            inactivity,
            maxpause,
            acks,
            stream,
            keys,
        })
    }
}
