//! The page answered to `GET` on the BOSH path.
//!
//! Users check an endpoint by opening it in a browser; a 404 there looks like
//! a broken server (peer-servers.md, pain point 6), so the endpoint says what
//! it is instead.

/// The HTML page for the endpoint at `path`.
pub(crate) fn endpoint_page(path: &str) -> String {
    let path = escape(path);
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head><meta charset=\"utf-8\"><title>BOSH endpoint</title></head>\n\
         <body>\n\
         <h1>BOSH endpoint</h1>\n\
         <p>This is an XMPP over BOSH connection manager (XEP-0124, XEP-0206) at \
         <code>{path}</code>. It is working.</p>\n\
         <p>Point an XMPP client such as Strophe.js or Converse.js at this URL. \
         Clients talk to it with <code>POST</code> requests carrying \
         <code>&lt;body/&gt;</code> elements; a browser visit only shows this page.</p>\n\
         <p><small>bosh-cm {version}</small></p>\n\
         </body>\n\
         </html>\n",
        version = env!("CARGO_PKG_VERSION"),
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_escapes_the_path() {
        let page = endpoint_page("/x<script>&\"'");
        assert!(page.contains("/x&lt;script&gt;&amp;&quot;&#39;"));
        assert!(!page.contains("<script>"));
    }
}
