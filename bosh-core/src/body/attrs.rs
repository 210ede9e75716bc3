//! Typed `<body/>` attributes (XEP-0124 §22 schema, XEP-0206 §11 schema).

use std::fmt;
use std::str::FromStr;

use crate::condition::Condition;
use crate::rid::Rid;

use super::Sid;

/// Every attribute of `<body/>` defined by XEP-0124 and XEP-0206, typed with
/// its schema range. `None` means the attribute is absent.
///
/// The attributes that the requests and responses of a running session
/// carry are fields here. Those that only appear when a session is created
/// (XEP-0124 §7.1, §7.2; XEP-0206 §3, §4), a stream is added (§16) or
/// restarted (XEP-0206 §5) are in a [`CreationAttrs`], boxed in the
/// `creation` field only when one of them is present: the usual body
/// (an empty poll, a request carrying stanzas, their responses) is small to
/// build, move and drop, and parsing it allocates nothing for its
/// attributes. Read them with [`BodyAttrs::creation()`] (all absent when
/// there is no box) and set them with [`BodyAttrs::creation_mut`].
///
/// Equality compares the attributes: no box and a box with every creation
/// attribute absent are equal.
///
/// The obsolete `secure` attribute (removed in XEP-0124 v1.8) is ignored on
/// input and never emitted.
///
/// Build one with struct-update syntax from `BodyAttrs::default()`:
///
/// ```
/// use bosh_core::body::{BodyAttrs, CreationAttrs, Version};
/// use bosh_core::Rid;
///
/// // A session creation request (XEP-0124 §7.1).
/// let mut attrs = BodyAttrs {
///     rid: Rid::new(1573741820),
///     creation: Some(Box::new(CreationAttrs {
///         to: Some("example.com".into()),
///         wait: Some(60),
///         hold: Some(1),
///         ..CreationAttrs::default()
///     })),
///     ..BodyAttrs::default()
/// };
/// attrs.creation_mut().ver = Some(Version::new(1, 11));
/// assert_eq!(attrs.creation().wait, Some(60));
///
/// // An empty poll (XEP-0124 §8) has none of them.
/// let poll = BodyAttrs { rid: Rid::new(1573741821), sid: Some("SomeSID".into()), ..BodyAttrs::default() };
/// assert!(poll.creation.is_none());
/// assert_eq!(poll.creation().wait, None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct BodyAttrs {
    /// `rid` (§6, §14): `positiveInteger`, at most 2^53 - 1.
    pub rid: Option<Rid>,
    /// `sid` (§7.2): the opaque session id.
    pub sid: Option<Sid>,
    /// `ack` (§9): highest rid acknowledged.
    pub ack: Option<Rid>,
    /// `report` (§9.2): rid of a response the client seems to have missed.
    pub report: Option<Rid>,
    /// `pause` (§10): requested pause in seconds.
    pub pause: Option<u16>,
    /// `time` (§9.2): milliseconds since the reported response was sent
    /// (`unsignedShort`).
    pub time: Option<u16>,
    /// `key` (§15): the key of this request in the key sequence.
    pub key: Option<String>,
    /// `newkey` (§15): the first key of a new key sequence.
    pub newkey: Option<String>,
    /// `stream` (§16): the stream name.
    pub stream: Option<String>,
    /// `type` (§13, §17): `terminate` or `error`.
    pub body_type: Option<BodyType>,
    /// `condition` (§17.2): the terminal condition.
    pub condition: Option<Condition>,
    /// `xmpp:restart` (XEP-0206 §5): a stream restart request.
    pub xmpp_restart: Option<bool>,
    /// The session creation attributes (§7.1, §7.2, §16; XEP-0206 §3-§5),
    /// boxed, `None` when none is present. See [`BodyAttrs::creation()`]
    /// and [`BodyAttrs::creation_mut`].
    pub creation: Option<Box<CreationAttrs>>,
    /// Attributes from other namespaces (`anyAttribute ##other`, §22), and
    /// unqualified attributes that no version of XEP-0124 defines, kept in
    /// document order.
    pub extra: Vec<ExtraAttribute>,
}

/// The attributes of `<body/>` that only appear on a session creation
/// request (XEP-0124 §7.1) or response (§7.2; XEP-0206 §3, §4), or on a
/// request adding a stream (§16) or restarting one (XEP-0206 §5), typed with
/// their schema range. `None` means the attribute is absent.
///
/// A [`BodyAttrs`] keeps them boxed in its `creation` field, so that
/// the bodies of a running session, which carry none of them, stay small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreationAttrs {
    /// `to` (§7.1, §16; XEP-0206 §5): the target domain.
    pub to: Option<String>,
    /// `from` (§7.1, §7.2, §16): the originator or backend identity.
    pub from: Option<String>,
    /// `route` (§7.1, §16): `proto:host:port`, kept opaque and never parsed
    /// as a URI (R7.1-6).
    pub route: Option<String>,
    /// `xml:lang` (§7.1, §16; XEP-0206 §5): the default language.
    pub xml_lang: Option<String>,
    /// `ver` (§7.1, §7.2): the protocol version; its absence marks a legacy
    /// peer (§17.1).
    pub ver: Option<Version>,
    /// `wait` (§7.1, §7.2): longest hold in seconds (`unsignedShort`).
    pub wait: Option<u16>,
    /// `hold` (§7.1, §7.2): most requests held (`unsignedByte`).
    pub hold: Option<u8>,
    /// `requests` (§7.2, §11): most simultaneous requests (`unsignedByte`).
    pub requests: Option<u8>,
    /// `polling` (§7.2, §12): shortest polling interval in seconds.
    pub polling: Option<u16>,
    /// `inactivity` (§7.2, §10): longest inactivity in seconds.
    pub inactivity: Option<u16>,
    /// `maxpause` (§7.2, §10): longest pause in seconds.
    pub maxpause: Option<u16>,
    /// `accept` (§7.2): content codings the connection manager can
    /// decompress, from a comma-separated list.
    pub accept: Option<Vec<String>>,
    /// `charsets` (§7.2): character encodings the connection manager can
    /// convert, from a space-separated `NMTOKENS` list.
    pub charsets: Option<Vec<String>>,
    /// `content` (§7.1): the Content-Type every response must carry (R7.1-10).
    pub content: Option<String>,
    /// `authid` (XEP-0206 §4): the obsolete XMPP stream id.
    pub authid: Option<String>,
    /// `xmpp:version` (XEP-0206 §3, §4): the XMPP stream version.
    pub xmpp_version: Option<Version>,
    /// `xmpp:restartlogic` (XEP-0206 §4): the connection manager supports
    /// restarts.
    pub xmpp_restartlogic: Option<bool>,
}

/// What [`BodyAttrs::creation()`] returns when there is no box.
static NO_CREATION: CreationAttrs = CreationAttrs::EMPTY;

impl CreationAttrs {
    /// Every creation attribute absent (XEP-0124 §7), the same as
    /// `CreationAttrs::default()`.
    pub const EMPTY: CreationAttrs = CreationAttrs {
        to: None,
        from: None,
        route: None,
        xml_lang: None,
        ver: None,
        wait: None,
        hold: None,
        requests: None,
        polling: None,
        inactivity: None,
        maxpause: None,
        accept: None,
        charsets: None,
        content: None,
        authid: None,
        xmpp_version: None,
        xmpp_restartlogic: None,
    };

    /// Whether every creation attribute is absent (XEP-0124 §7).
    pub fn is_empty(&self) -> bool {
        *self == CreationAttrs::EMPTY
    }
}

impl PartialEq for BodyAttrs {
    fn eq(&self, other: &Self) -> bool {
        // Destructured, so that a new field cannot be forgotten here.
        let BodyAttrs {
            rid,
            sid,
            ack,
            report,
            pause,
            time,
            key,
            newkey,
            stream,
            body_type,
            condition,
            xmpp_restart,
            creation: _,
            extra,
        } = self;
        *rid == other.rid
            && *sid == other.sid
            && *ack == other.ack
            && *report == other.report
            && *pause == other.pause
            && *time == other.time
            && *key == other.key
            && *newkey == other.newkey
            && *stream == other.stream
            && *body_type == other.body_type
            && *condition == other.condition
            && *xmpp_restart == other.xmpp_restart
            && self.creation() == other.creation()
            && *extra == other.extra
    }
}

impl Eq for BodyAttrs {}

impl BodyAttrs {
    /// Attributes for a terminal error response: `type='terminate'` and
    /// `condition` (XEP-0124 §17.2).
    pub fn terminate(condition: Condition) -> BodyAttrs {
        BodyAttrs {
            body_type: Some(BodyType::Terminate),
            condition: Some(condition),
            ..BodyAttrs::default()
        }
    }

    /// The session creation attributes (XEP-0124 §7.1, §7.2, §16; XEP-0206
    /// §3-§5), all absent if the `creation` field holds no box.
    pub fn creation(&self) -> &CreationAttrs {
        self.creation.as_deref().unwrap_or(&NO_CREATION)
    }

    /// The session creation attributes (XEP-0124 §7.1, §7.2, §16; XEP-0206
    /// §3-§5) for writing, boxing an empty set first if there is none.
    pub fn creation_mut(&mut self) -> &mut CreationAttrs {
        self.creation.get_or_insert_with(Box::default)
    }

    /// Whether `type='terminate'` (XEP-0124 §13, §17.2).
    pub fn is_terminate(&self) -> bool {
        self.body_type == Some(BodyType::Terminate)
    }

    /// Whether `type='error'`, a recoverable binding error (XEP-0124 §17.3).
    pub fn is_error(&self) -> bool {
        self.body_type == Some(BodyType::Error)
    }

    /// Whether `xmpp:restart` is true (XEP-0206 §5).
    pub fn is_restart(&self) -> bool {
        self.xmpp_restart == Some(true)
    }
}

/// The `type` attribute (XEP-0124 §13, §17.2, §17.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyType {
    /// `terminate`: the session ends (§13), or a fatal error (§17.2).
    Terminate,
    /// `error`: a recoverable binding error (§17.3).
    Error,
}

impl BodyType {
    /// The attribute value.
    pub const fn as_str(self) -> &'static str {
        match self {
            BodyType::Terminate => "terminate",
            BodyType::Error => "error",
        }
    }
}

/// A protocol version `major.minor` (XEP-0124 §7.1, R7.1-2; XEP-0206 §3).
///
/// The minor part is compared as a separate integer, so 1.10 > 1.9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The major number.
    pub major: u16,
    /// The minor number.
    pub minor: u16,
}

impl Version {
    /// A version.
    pub const fn new(major: u16, minor: u16) -> Version {
        Version { major, minor }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The value was not of the form `major.minor` with decimal numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a major.minor version")]
pub struct InvalidVersion;

impl FromStr for Version {
    type Err = InvalidVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (major, minor) = s.split_once('.').ok_or(InvalidVersion)?;
        let num = |p: &str| -> Result<u16, InvalidVersion> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidVersion);
            }
            p.parse().map_err(|_| InvalidVersion)
        };
        Ok(Version {
            major: num(major)?,
            minor: num(minor)?,
        })
    }
}

/// An attribute of `<body/>` that neither XEP defines, kept as written
/// (XEP-0124 §22, `anyAttribute namespace='##other'`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraAttribute {
    /// The namespace URI, `None` for an unqualified attribute.
    pub namespace: Option<String>,
    /// The qualified name as written, e.g. `ext:flag` or `flag`.
    pub name: String,
    /// The unescaped value.
    pub value: String,
}

/// A prefixed namespace declaration `xmlns:prefix='uri'` made on `<body/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDecl {
    /// The prefix, e.g. `stream`.
    pub prefix: String,
    /// The namespace URI, unescaped.
    pub uri: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xep0124_7_1_ver_minor_compared_as_integer() {
        let v110: Version = "1.10".parse().unwrap();
        let v19: Version = "1.9".parse().unwrap();
        assert!(v110 > v19);
        assert_eq!(v110.to_string(), "1.10");
        for bad in [
            "", "1", "1.", ".1", "1.x", "-1.0", "1.0.0", "+1.0", "70000.1",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
    }
}
