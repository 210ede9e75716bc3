//! Emitting `<body/>` wrappers (XEP-0124 §6, XEP-0206 §2).

use std::io::Write as _;

use bytes::Bytes;

use super::attrs::{BodyAttrs, NamespaceDecl, Version};
use super::xml::{escape_attr, escape_text, is_stream_element};
use super::{NS_HTTPBIND, NS_STREAMS, NS_XBOSH};

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
    out.extend_from_slice(b"<body");
    write_attrs(attrs, out);
    out.extend_from_slice(b" xmlns='");
    out.extend_from_slice(NS_HTTPBIND.as_bytes());
    out.push(b'\'');

    let has_xbosh = attrs.xmpp_version.is_some()
        || attrs.xmpp_restart.is_some()
        || attrs.xmpp_restartlogic.is_some();
    if has_xbosh {
        write_decl("xmpp", NS_XBOSH, out);
    }
    for d in namespaces {
        if has_xbosh && d.prefix == "xmpp" {
            continue;
        }
        write_decl(&d.prefix, &d.uri, out);
    }
    let declared = |p: &str| namespaces.iter().any(|d| d.prefix == p) || (has_xbosh && p == "xmpp");
    // Prefixes of extra attributes must be declared.
    for (i, e) in attrs.extra.iter().enumerate() {
        let (Some(ns), Some((p, _))) = (&e.namespace, e.name.split_once(':')) else {
            continue;
        };
        let earlier = attrs.extra[..i]
            .iter()
            .any(|x| x.name.split_once(':').is_some_and(|(q, _)| q == p));
        if p != "xml" && !declared(p) && !earlier {
            write_decl(p, ns, out);
        }
    }

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

fn write_decl(prefix: &str, uri: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b" xmlns:");
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(b"='");
    escape_attr(uri, out);
    out.push(b'\'');
}

fn write_str(name: &str, value: &Option<String>, out: &mut Vec<u8>) {
    if let Some(v) = value {
        write_attr(name, v, out);
    }
}

fn write_attr(name: &str, value: &str, out: &mut Vec<u8>) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"='");
    escape_attr(value, out);
    out.push(b'\'');
}

fn write_num<T: std::fmt::Display>(name: &str, value: Option<T>, out: &mut Vec<u8>) {
    if let Some(v) = value {
        // Writing into a Vec cannot fail.
        let _ = write!(out, " {name}='{v}'");
    }
}

fn write_version(name: &str, value: Option<Version>, out: &mut Vec<u8>) {
    write_num(name, value, out);
}

fn write_bool(name: &str, value: Option<bool>, out: &mut Vec<u8>) {
    if let Some(v) = value {
        write_attr(name, if v { "true" } else { "false" }, out);
    }
}

fn write_attrs(a: &BodyAttrs, out: &mut Vec<u8>) {
    write_num("rid", a.rid.map(|r| r.get()), out);
    write_str("sid", &a.sid, out);
    write_str("to", &a.to, out);
    write_str("from", &a.from, out);
    write_str("route", &a.route, out);
    write_str("xml:lang", &a.xml_lang, out);
    write_version("ver", a.ver, out);
    write_num("wait", a.wait, out);
    write_num("hold", a.hold, out);
    write_num("requests", a.requests, out);
    write_num("polling", a.polling, out);
    write_num("inactivity", a.inactivity, out);
    write_num("maxpause", a.maxpause, out);
    write_num("pause", a.pause, out);
    write_num("ack", a.ack.map(|r| r.get()), out);
    write_num("report", a.report.map(|r| r.get()), out);
    write_num("time", a.time, out);
    if let Some(list) = &a.accept {
        write_attr("accept", &list.join(","), out);
    }
    if let Some(list) = &a.charsets {
        write_attr("charsets", &list.join(" "), out);
    }
    write_str("content", &a.content, out);
    write_str("key", &a.key, out);
    write_str("newkey", &a.newkey, out);
    write_str("stream", &a.stream, out);
    write_str("authid", &a.authid, out);
    if let Some(t) = a.body_type {
        write_attr("type", t.as_str(), out);
    }
    if let Some(c) = a.condition {
        write_attr("condition", c.as_str(), out);
    }
    write_version("xmpp:version", a.xmpp_version, out);
    write_bool("xmpp:restart", a.xmpp_restart, out);
    write_bool("xmpp:restartlogic", a.xmpp_restartlogic, out);
    for e in &a.extra {
        write_attr(&e.name, &e.value, out);
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
