//! Emitting `<body/>` wrappers (XEP-0124 §6, XEP-0206 §2).

use bytes::Bytes;

use super::attrs::{BodyAttrs, NamespaceDecl, Version};
use super::xml::{NS_XML, NS_XMLNS, escape_text, is_stream_element};
use super::{NS_HTTPBIND, NS_STREAMS, NS_XBOSH};
use crate::xml::{write_attr, write_prefix_decl as write_decl};

/// Writes `<body/>` with `attrs` and the payload elements `payload` into
/// `out`, appending (XEP-0124 §6).
///
/// - Attributes are written in a fixed order with values escaped; absent
///   ones are omitted.
/// - `xmlns:xmpp='urn:xmpp:xbosh'` is declared when an XEP-0206 attribute is
///   present (XEP-0206 §3), and `xmlns:stream` when a payload element is
///   `stream:features` or `stream:error` (XEP-0206 §2, X2-1).
/// - Each payload piece must be a complete, well-formed element; it is
///   copied as is.
///
/// An empty payload gives `<body …/>`.
pub fn write_body<I>(attrs: &BodyAttrs, payload: I, out: &mut Vec<u8>)
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    write_body_with(attrs, &[], payload, out);
}

/// Writes `<body/>` like [`write_body`], also declaring the prefixed
/// namespaces `namespaces` on it (those the payload relies on).
pub(crate) fn write_body_with<I>(
    attrs: &BodyAttrs,
    namespaces: &[NamespaceDecl],
    payload: I,
    out: &mut Vec<u8>,
) where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let has_xbosh = attrs.creation().xmpp_version.is_some()
        || attrs.xmpp_restart.is_some()
        || attrs.creation().xmpp_restartlogic.is_some();
    // Prefix bindings, so that every prefixed attribute lands in its own
    // namespace even when the body rebinds `xmpp` (e.g. `xmlns:xmpp='urn:x'`
    // next to `xmlns:b='urn:xmpp:xbosh'`): the XEP-0206 attributes take a
    // prefix already bound to urn:xmpp:xbosh, else `xmpp`, else a fresh one;
    // an extra attribute whose prefix is bound elsewhere gets a fresh prefix.
    let simple = namespaces.is_empty() && attrs.extra.iter().all(|e| e.namespace.is_none());
    let plan = if simple {
        None
    } else {
        Some(PrefixPlan::new(attrs, namespaces, has_xbosh))
    };
    let xbosh_prefix = plan.as_ref().map_or("xmpp", |p| p.xbosh_prefix.as_str());

    out.extend_from_slice(b"<body");
    write_attrs(attrs, xbosh_prefix, plan.as_ref(), out);
    out.extend_from_slice(b" xmlns='");
    out.extend_from_slice(NS_HTTPBIND.as_bytes());
    out.push(b'\'');
    let declare_xbosh = has_xbosh && plan.as_ref().is_none_or(|p| p.declare_xbosh);
    if declare_xbosh {
        write_decl(xbosh_prefix, NS_XBOSH, out);
    }
    for d in namespaces {
        write_decl(&d.prefix, &d.uri, out);
    }
    if let Some(plan) = &plan {
        for (prefix, uri) in &plan.extra_decls {
            write_decl(prefix, uri, out);
        }
    }
    let declared = |p: &str| {
        namespaces.iter().any(|d| d.prefix == p)
            || (declare_xbosh && p == xbosh_prefix)
            || plan
                .as_ref()
                .is_some_and(|plan| plan.extra_decls.iter().any(|(q, _)| q == p))
    };

    let mut payload = payload.into_iter().peekable();
    if payload.peek().is_none() {
        out.extend_from_slice(b"/>");
        return;
    }
    // xmlns:stream must be declared when the payload carries stream:features
    // or stream:error; we need to look at the pieces before writing them.
    let pieces: Vec<I::Item> = payload.collect();
    if !declared("stream")
        && pieces.iter().any(|p| {
            let p = p.as_ref();
            is_stream_element(p, b"features") || is_stream_element(p, b"error")
        })
    {
        write_decl("stream", NS_STREAMS, out);
    }
    out.push(b'>');
    for p in &pieces {
        out.extend_from_slice(p.as_ref());
    }
    out.extend_from_slice(b"</body>");
}

/// Prefix decisions for a body with namespace declarations or namespaced
/// extra attributes (the uncommon case; the common one allocates nothing).
struct PrefixPlan {
    /// The prefix of `xmpp:version`, `xmpp:restart`, `xmpp:restartlogic`.
    xbosh_prefix: String,
    /// Whether that prefix must be declared (no declaration binds it yet).
    declare_xbosh: bool,
    /// Declarations needed by extra attributes, in order.
    extra_decls: Vec<(String, String)>,
    /// The qualified name to write for each extra attribute, when it differs
    /// from its own (`extra[i]`).
    renamed: Vec<(usize, String)>,
}

impl PrefixPlan {
    fn new(attrs: &BodyAttrs, namespaces: &[NamespaceDecl], has_xbosh: bool) -> PrefixPlan {
        let extra_prefix = |name: &str| name.split_once(':').map(|(p, _)| p.to_owned());
        // Prefixes that may not be reused for something else.
        let taken = |p: &str, plan: &PrefixPlan| {
            p == "xml"
                || p == "xmlns"
                || namespaces.iter().any(|d| d.prefix == p)
                || plan.extra_decls.iter().any(|(q, _)| q == p)
                || attrs
                    .extra
                    .iter()
                    .any(|e| extra_prefix(&e.name).as_deref() == Some(p))
                || (has_xbosh && plan.xbosh_prefix == p)
        };
        let mut plan = PrefixPlan {
            xbosh_prefix: String::new(),
            declare_xbosh: false,
            extra_decls: Vec::new(),
            renamed: Vec::new(),
        };
        if has_xbosh {
            if let Some(d) = namespaces.iter().find(|d| d.uri == NS_XBOSH) {
                plan.xbosh_prefix = d.prefix.clone();
            } else {
                let xmpp_free = !namespaces.iter().any(|d| d.prefix == "xmpp")
                    && !attrs.extra.iter().any(|e| {
                        extra_prefix(&e.name).as_deref() == Some("xmpp")
                            && e.namespace.as_deref() != Some(NS_XBOSH)
                    });
                plan.xbosh_prefix = if xmpp_free {
                    "xmpp".to_owned()
                } else {
                    fresh("xbosh", |p| taken(p, &plan))
                };
                plan.declare_xbosh = true;
            }
        } else {
            plan.xbosh_prefix = "xmpp".to_owned();
        }
        for (i, e) in attrs.extra.iter().enumerate() {
            let (Some(ns), Some((p, local))) = (&e.namespace, e.name.split_once(':')) else {
                continue;
            };
            // `xml` is bound to the XML namespace and `xmlns` to the
            // namespace of declarations, whatever is declared: an attribute
            // of another namespace under either prefix gets another prefix.
            let reserved = match p {
                "xml" => Some(NS_XML),
                "xmlns" => Some(NS_XMLNS),
                _ => None,
            };
            let bound = reserved
                .or_else(|| {
                    namespaces
                        .iter()
                        .find(|d| d.prefix == p)
                        .map(|d| d.uri.as_str())
                })
                .or_else(|| (has_xbosh && plan.xbosh_prefix == p).then_some(NS_XBOSH))
                .or_else(|| {
                    plan.extra_decls
                        .iter()
                        .find(|(q, _)| q == p)
                        .map(|(_, u)| u.as_str())
                });
            match bound {
                Some(uri) if uri == ns => {}
                None => plan.extra_decls.push((p.to_owned(), ns.clone())),
                Some(_) => {
                    // Reuse a prefix already bound to this namespace, or make one.
                    let existing = namespaces
                        .iter()
                        .find(|d| &d.uri == ns)
                        .map(|d| d.prefix.clone())
                        .or_else(|| {
                            plan.extra_decls
                                .iter()
                                .find(|(_, u)| u == ns)
                                .map(|(q, _)| q.clone())
                        });
                    let q = match existing {
                        Some(q) => q,
                        None => {
                            let q = fresh("ns", |c| taken(c, &plan));
                            plan.extra_decls.push((q.clone(), ns.clone()));
                            q
                        }
                    };
                    plan.renamed.push((i, format!("{q}:{local}")));
                }
            }
        }
        plan
    }

    fn extra_name<'a>(&'a self, i: usize, name: &'a str) -> &'a str {
        self.renamed
            .iter()
            .find(|(j, _)| *j == i)
            .map_or(name, |(_, n)| n.as_str())
    }
}

/// `base`, or `base1`, `base2`, … : the first that `taken` refuses.
fn fresh(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (1u32..)
        .map(|n| format!("{base}{n}"))
        .find(|c| !taken(c))
        .unwrap_or_default()
}

fn write_str<S: AsRef<str>>(name: &str, value: &Option<S>, out: &mut Vec<u8>) {
    if let Some(v) = value {
        write_attr(name, v.as_ref(), out);
    }
}

fn write_num<T: Into<u64>>(name: &str, value: Option<T>, out: &mut Vec<u8>) {
    if let Some(v) = value {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"='");
        write_decimal(v.into(), out);
        out.push(b'\'');
    }
}

/// Decimal digits of `v`, without going through `core::fmt`.
fn write_decimal(mut v: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_version(name: &str, value: Option<Version>, out: &mut Vec<u8>) {
    if let Some(v) = value {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"='");
        write_decimal(v.major.into(), out);
        out.push(b'.');
        write_decimal(v.minor.into(), out);
        out.push(b'\'');
    }
}

fn write_bool(name: &str, value: Option<bool>, out: &mut Vec<u8>) {
    if let Some(v) = value {
        write_attr(name, if v { "true" } else { "false" }, out);
    }
}

fn write_attrs(a: &BodyAttrs, xbosh: &str, plan: Option<&PrefixPlan>, out: &mut Vec<u8>) {
    let c = a.creation();
    write_num("rid", a.rid.map(|r| r.get()), out);
    write_str("sid", &a.sid, out);
    write_str("to", &c.to, out);
    write_str("from", &c.from, out);
    write_str("route", &c.route, out);
    write_str("xml:lang", &c.xml_lang, out);
    write_version("ver", c.ver, out);
    write_num("wait", c.wait, out);
    write_num("hold", c.hold, out);
    write_num("requests", c.requests, out);
    write_num("polling", c.polling, out);
    write_num("inactivity", c.inactivity, out);
    write_num("maxpause", c.maxpause, out);
    write_num("pause", a.pause, out);
    write_num("ack", a.ack.map(|r| r.get()), out);
    write_num("report", a.report.map(|r| r.get()), out);
    write_num("time", a.time, out);
    if let Some(list) = &c.accept {
        write_attr("accept", &list.join(","), out);
    }
    if let Some(list) = &c.charsets {
        write_attr("charsets", &list.join(" "), out);
    }
    write_str("content", &c.content, out);
    write_str("key", &a.key, out);
    write_str("newkey", &a.newkey, out);
    write_str("stream", &a.stream, out);
    write_str("authid", &c.authid, out);
    if let Some(t) = a.body_type {
        write_attr("type", t.as_str(), out);
    }
    if let Some(cond) = a.condition {
        write_attr("condition", cond.as_str(), out);
    }
    if xbosh == "xmpp" {
        write_version("xmpp:version", c.xmpp_version, out);
        write_bool("xmpp:restart", a.xmpp_restart, out);
        write_bool("xmpp:restartlogic", c.xmpp_restartlogic, out);
    } else {
        write_version(&format!("{xbosh}:version"), c.xmpp_version, out);
        write_bool(&format!("{xbosh}:restart"), a.xmpp_restart, out);
        write_bool(&format!("{xbosh}:restartlogic"), c.xmpp_restartlogic, out);
    }
    for (i, e) in a.extra.iter().enumerate() {
        let name = plan.map_or(e.name.as_str(), |p| p.extra_name(i, &e.name));
        write_attr(name, &e.value, out);
    }
}

/// The `<uri/>` child of a `see-other-uri` terminal error (XEP-0124 §17.2,
/// R17.2-5), with the URI escaped.
pub fn uri_element(uri: &str) -> Bytes {
    let mut out = Vec::with_capacity(uri.len() + 11);
    out.extend_from_slice(b"<uri>");
    escape_text(uri, &mut out);
    out.extend_from_slice(b"</uri>");
    Bytes::from(out)
}
