#!/usr/bin/env node
// Strophe.js (BOSH) in Debian's headless Chromium, driven by playwright-core.
//
//   node interop/strophe_browser.mjs --bosh-url URL --jid user@localhost --password PW
//        [--with-credentials] [--expect-failure | --expect-cors-block]
//        [--timeout-ms N] [--settle-ms N] [--page-port N] [--chromium PATH] [--verbose]
//
// Serves a tiny page (plus strophe.umd.min.js) from its own HTTP server on
// 127.0.0.1 (ephemeral port unless --page-port), so the page origin differs
// from the BOSH URL's and every BOSH POST is a real cross-origin request with a
// CORS preflight. In the page: connect, send available presence, send a
// message to our own bare JID, wait for it to come back, disconnect, wait for
// DISCONNECTED. Preflights and CORS failures are recorded through a CDP
// session. Prints ONE line of JSON on stdout and exits:
//   0  the outcome matched the expectation: the full flow succeeded with no
//      CORS error; with --expect-failure: never reached CONNECTED; with
//      --expect-cors-block: never reached CONNECTED and the browser blocked
//      at least one BOSH request for CORS reasons,
//   1  it did not,
//   2  usage error or the harness itself could not run (browser missing...).
// Diagnostics go to stderr (only with --verbose, or on harness errors).

import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STROPHE_JS = path.join(HERE, 'node_modules/strophe.js/dist/strophe.umd.min.js');
const INSTALL_HINT = 'run scripts/install-test-deps';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const T0 = Date.now();
const since = () => Date.now() - T0;

function usage(msg) {
  const text =
    'usage: node strophe_browser.mjs --bosh-url URL --jid USER@DOMAIN --password PW\n' +
    '       [--with-credentials] [--expect-failure | --expect-cors-block] [--timeout-ms N (30000)]\n' +
    '       [--settle-ms N (3000)] [--page-port N (0)] [--chromium PATH] [--verbose]';
  return { usage: true, message: msg ? `${msg}\n${text}` : text };
}

function parseArgs(argv) {
  const o = {
    boshUrl: null, jid: null, password: null, withCredentials: false,
    expectFailure: false, expectCorsBlock: false, timeoutMs: 30000, settleMs: 3000, pagePort: 0,
    chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium', verbose: false,
  };
  const num = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw usage(`${name} needs a non-negative integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw usage(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--bosh-url': o.boshUrl = val(); break;
      case '--jid': o.jid = val(); break;
      case '--password': o.password = val(); break;
      case '--with-credentials': o.withCredentials = true; break;
      case '--expect-failure': o.expectFailure = true; break;
      case '--expect-cors-block': o.expectFailure = true; o.expectCorsBlock = true; break;
      case '--timeout-ms': o.timeoutMs = num(a, val()); break;
      case '--settle-ms': o.settleMs = num(a, val()); break;
      case '--page-port': o.pagePort = num(a, val()); break;
      case '--chromium': o.chromium = val(); break;
      case '--verbose': o.verbose = true; break;
      case '-h': case '--help': throw usage();
      default: throw usage(`unknown argument ${a}`);
    }
  }
  if (!o.boshUrl || !o.jid || o.password === null) throw usage('--bosh-url, --jid and --password are required');
  let u;
  try { u = new URL(o.boshUrl); } catch { throw usage(`bad --bosh-url ${o.boshUrl}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw usage('--bosh-url must be http(s)');
  if (!/^[^@/\s]+@[^@/\s]+$/.test(o.jid)) throw usage(`--jid must be a bare JID user@domain, got ${o.jid}`);
  if (o.timeoutMs < 1000) throw usage('--timeout-ms must be at least 1000');
  return o;
}

// ---------------------------------------------------------------- the page --
const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>strophe interop</title>
<script src="/strophe.umd.min.js"></script></head>
<body><p id="state">loading</p></body></html>`;

// Runs inside the page (serialized by Playwright). Reports events through the
// exposed binding window.__report(kind, data); returns nothing useful.
function pageFlow({ boshUrl, jid, password, withCredentials }) {
  const report = (kind, data) => { try { window.__report(kind, data ?? null); } catch (_) { /* closed */ } };
  const S = window.Strophe;
  if (!S || !S.Connection) { report('error', 'Strophe global missing in page'); report('finished'); return; }
  const names = {};
  for (const [k, v] of Object.entries(S.Status)) names[v] = k;

  // Strophe logs through console.*; the Node side keeps warnings and errors.
  S.setLogLevel(S.LogLevel.WARN);

  const bare = jid;
  const token = 'interop-' + Math.random().toString(36).slice(2) + '-' + Date.now();
  let sentMessage = false;
  let finished = false;
  const finish = () => { if (!finished) { finished = true; report('finished'); } };

  const conn = new S.Connection(boshUrl, { withCredentials });
  window.__conn = conn;

  const sendMessage = () => {
    if (sentMessage) return;
    sentMessage = true;
    conn.send(window.$msg({ to: bare, type: 'chat', id: 'msg-' + token }).c('body').t(token));
    report('sent', token);
  };

  conn.connect(jid, password, (status, condition) => {
    report('status', { status: names[status] ?? String(status), condition: condition ?? null });
    document.getElementById('state').textContent = names[status] ?? String(status);
    if (status === S.Status.CONNECTED) {
      report('connected', conn.jid);
      conn.addHandler((m) => {
        const body = m.getElementsByTagName('body')[0];
        if (body && body.textContent === token) {
          report('received', m.getAttribute('from'));
          conn.disconnect('interop test done');
          return false;
        }
        return true;
      }, null, 'message');
      // Wait for our own available presence to come back before messaging our
      // bare JID: only then does the server consider this resource available.
      conn.addHandler((p) => {
        const from = p.getAttribute('from') || '';
        if (from === conn.jid && p.getAttribute('type') !== 'unavailable') {
          report('presence_echo', from);
          sendMessage();
          return false;
        }
        return true;
      }, null, 'presence');
      conn.send(window.$pres());
      report('presence_sent');
      // Fallback if a server does not echo presence: message after 2 s anyway.
      setTimeout(sendMessage, 2000);
    } else if (status === S.Status.DISCONNECTED) {
      report('disconnected');
      finish();
    } else if ([S.Status.AUTHFAIL, S.Status.CONNFAIL, S.Status.CONNTIMEOUT, S.Status.ERROR].includes(status)) {
      // Terminal failures. Strophe may or may not go on to DISCONNECTED (after
      // AUTHFAIL it does not): give it a moment, then stop.
      report('failed', (names[status] ?? String(status)) + (condition ? ':' + condition : ''));
      setTimeout(finish, 1500);
    }
  });
}

// ------------------------------------------------------------------- main --
async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e && e.usage) {
      process.stderr.write(e.message + '\n');
      process.stdout.write(JSON.stringify({ ok: false, error: 'usage: ' + (e.message.split('\n')[0]) }) + '\n');
      return 2;
    }
    throw e;
  }
  const vlog = (...a) => { if (opts.verbose) process.stderr.write(`[${since()}ms] ${a.join(' ')}\n`); };

  const result = {
    ok: false,
    expect_failure: opts.expectFailure,
    expect_cors_block: opts.expectCorsBlock,
    connected: false,
    sent: false,
    received: false,
    disconnected: false,
    preflights: 0,            // OPTIONS preflights sent to the BOSH origin
    statuses: [],             // their HTTP statuses, in order (0 = no response)
    acao: [],                 // their Access-Control-Allow-Origin values (null = absent)
    preflight_request_headers: null, // Access-Control-Request-Headers of the first one
    posts: 0,                 // BOSH POSTs sent
    post_statuses: [],        // HTTP statuses the browser received for them
    cors_errors: [],          // CDP loadingFailed CORS reasons (blocked requests)
    net_errors: [],           // other failed requests (refused, reset; not aborts)
    page_origin: null,
    bosh_url: opts.boshUrl,
    error: null,
    log: [],                  // Strophe status transitions: "+12ms CONNECTING"
    strophe_log: [],          // Strophe's own WARN/ERROR log lines (bounded)
    elapsed_ms: 0,
  };
  let exitCode = 1;
  let harnessError = false;

  let server = null;
  let context = null;
  let profileDir = null;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const finish = (why) => { vlog('finish:', why); resolveDone(why); };
  let settleTimer = null;

  // Hard stop in case cleanup itself hangs: print whatever we have and exit.
  const hardTimer = setTimeout(() => {
    result.error = (result.error ? result.error + '; ' : '') + 'hard timeout during cleanup';
    result.elapsed_ms = since();
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(harnessError ? 2 : 1);
  }, opts.timeoutMs + 10000);
  hardTimer.unref();

  try {
    if (!fs.existsSync(STROPHE_JS)) {
      harnessError = true;
      throw new Error(`strophe.js not installed (${STROPHE_JS} missing): ${INSTALL_HINT}`);
    }
    if (!fs.existsSync(opts.chromium)) {
      harnessError = true;
      throw new Error(`chromium not installed (${opts.chromium} missing): ${INSTALL_HINT}`);
    }
    let chromium;
    try {
      ({ chromium } = await import('playwright-core'));
    } catch (e) {
      harnessError = true;
      throw new Error(`playwright-core not installed (${e.message}): ${INSTALL_HINT}`);
    }
    const stropheSource = fs.readFileSync(STROPHE_JS);

    // --- page server on 127.0.0.1 --------------------------------------------
    server = http.createServer((req, res) => {
      const url = (req.url || '/').split('?')[0];
      if (url === '/' || url === '/index.html') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(PAGE_HTML);
      } else if (url === '/strophe.umd.min.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(stropheSource);
      } else if (url === '/favicon.ico') {
        res.writeHead(204);
        res.end();
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found');
      }
    });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.pagePort, '127.0.0.1', resolve);
    });
    const pageOrigin = `http://127.0.0.1:${server.address().port}`;
    result.page_origin = pageOrigin;
    if (new URL(opts.boshUrl).origin === pageOrigin) {
      throw new Error(`page origin ${pageOrigin} equals the BOSH origin: pick another --page-port`);
    }
    vlog('page at', pageOrigin);

    // --- browser ---------------------------------------------------------------
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strophe-browser-profile-'));
    try {
      context = await chromium.launchPersistentContext(profileDir, {
        executablePath: opts.chromium,
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: Math.min(opts.timeoutMs, 20000),
      });
    } catch (e) {
      harnessError = true;
      throw new Error(`cannot launch ${opts.chromium}: ${e.message.split('\n')[0]}`);
    }
    vlog('browser up');
    const page = context.pages()[0] || (await context.newPage());

    // --- CDP network recording -------------------------------------------------
    const boshOrigin = new URL(opts.boshUrl).origin;
    const reqs = new Map(); // requestId -> { kind: 'preflight'|'post', idx }
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const header = (headers, name) => {
      for (const [k, v] of Object.entries(headers || {})) if (k.toLowerCase() === name) return v;
      return null;
    };
    cdp.on('Network.requestWillBeSent', (ev) => {
      const r = ev.request;
      let origin;
      try { origin = new URL(r.url).origin; } catch { return; }
      if (origin !== boshOrigin) return;
      if (r.method === 'OPTIONS' || ev.type === 'Preflight') {
        if (reqs.has(ev.requestId) && reqs.get(ev.requestId).kind === 'preflight') return;
        reqs.set(ev.requestId, { kind: 'preflight', idx: result.statuses.length });
        result.preflights += 1;
        result.statuses.push(0);
        result.acao.push(null);
        if (result.preflight_request_headers === null) {
          result.preflight_request_headers = header(r.headers, 'access-control-request-headers');
        }
        vlog('preflight', r.method, r.url, JSON.stringify(r.headers));
      } else if (r.method === 'POST') {
        if (reqs.has(ev.requestId)) return; // redirect of the same request
        reqs.set(ev.requestId, { kind: 'post', idx: result.post_statuses.length });
        result.posts += 1;
        result.post_statuses.push(0);
      }
    });
    cdp.on('Network.responseReceived', (ev) => {
      const rec = reqs.get(ev.requestId);
      if (!rec) return;
      if (rec.kind === 'preflight') {
        result.statuses[rec.idx] = ev.response.status;
        result.acao[rec.idx] = header(ev.response.headers, 'access-control-allow-origin');
        vlog('preflight response', ev.response.status, 'ACAO', result.acao[rec.idx]);
      } else {
        result.post_statuses[rec.idx] = ev.response.status;
      }
    });
    cdp.on('Network.loadingFailed', (ev) => {
      const rec = reqs.get(ev.requestId);
      if (!rec) return;
      const cors = ev.corsErrorStatus
        ? `${ev.corsErrorStatus.corsError}${ev.corsErrorStatus.failedParameter ? ' (' + ev.corsErrorStatus.failedParameter + ')' : ''}`
        : (ev.blockedReason ? `blocked:${ev.blockedReason}` : null);
      vlog('loadingFailed', rec.kind, ev.errorText, cors || '', ev.canceled ? 'canceled' : '');
      if (!cors) {
        // Aborted long-polls on disconnect are not failures. A refused or reset
        // connection before CONNECTED is proof enough with --expect-failure;
        // without it, Strophe's own retries decide (bounded by --timeout-ms).
        if (ev.canceled) return;
        if (result.net_errors.length < 20) result.net_errors.push(`${rec.kind}: ${ev.errorText}`);
        if (opts.expectFailure && !result.connected && !settleTimer) {
          settleTimer = setTimeout(() => finish('net-error-settled'), opts.settleMs);
        }
        return;
      }
      if (result.cors_errors.length < 20) result.cors_errors.push(`${rec.kind}: ${cors}`);
      // A CORS block never heals by retrying; Strophe would back off for a
      // minute. Give it settle-ms to prove it, then stop (if not connected).
      if (!result.connected && !settleTimer) {
        settleTimer = setTimeout(() => finish('cors-settled'), opts.settleMs);
      }
    });

    // --- events from the page --------------------------------------------------
    await page.exposeBinding('__report', (_src, kind, data) => {
      switch (kind) {
        case 'status': {
          const line = `+${since()}ms ${data.status}${data.condition ? ':' + data.condition : ''}`;
          result.log.push(line);
          vlog('strophe', line);
          break;
        }
        case 'connected': result.connected = true; result.full_jid = data; break;
        case 'sent': result.sent = true; break;
        case 'received': result.received = true; break;
        case 'disconnected': if (result.connected) result.disconnected = true; break;
        case 'strophe_log': if (result.strophe_log.length < 50) result.strophe_log.push(data); break;
        case 'failed': if (!result.error) result.error = `Strophe reported ${data}`; break;
        case 'error': result.error = String(data); break;
        case 'finished': finish('page-finished'); break;
        default: vlog('page event', kind, JSON.stringify(data));
      }
    });
    page.on('pageerror', (e) => { if (result.strophe_log.length < 50) result.strophe_log.push(`pageerror: ${e.message}`); });
    page.on('console', (m) => {
      const t = m.type();
      vlog(`console.${t}:`, m.text());
      if ((t === 'warning' || t === 'error') && result.strophe_log.length < 50) {
        result.strophe_log.push(`${t}: ${m.text().slice(0, 500)}`);
      }
    });

    await page.goto(pageOrigin + '/', { timeout: Math.min(opts.timeoutMs, 10000) });
    await page.evaluate(pageFlow, {
      boshUrl: opts.boshUrl, jid: opts.jid, password: opts.password, withCredentials: opts.withCredentials,
    });

    const remaining = Math.max(0, opts.timeoutMs - since());
    const timeout = new Promise((r) => setTimeout(() => r('timeout'), remaining).unref());
    const why = await Promise.race([done, timeout]);
    if (why === 'timeout' && !result.error) {
      result.error = `timed out after ${opts.timeoutMs} ms (last status: ${result.log.at(-1) ?? 'none'})`;
    } else if (why === 'cors-settled' && !result.error) {
      result.error = `CORS blocked: ${result.cors_errors[0]}`;
    } else if (why === 'net-error-settled' && !result.error) {
      result.error = `request failed: ${result.net_errors[0]}`;
    }
  } catch (e) {
    result.error = e && e.message ? e.message : String(e);
  } finally {
    if (settleTimer) clearTimeout(settleTimer);
    // Bounded cleanup: browser, page server, profile dir.
    const bounded = (p, ms) => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);
    if (context) await bounded(context.close(), 5000);
    if (server) {
      server.closeAllConnections?.();
      await bounded(new Promise((r) => server.close(r)), 2000);
    }
    if (profileDir) { try { fs.rmSync(profileDir, { recursive: true, force: true }); } catch { /* best effort */ } }
  }

  // --- verdict -----------------------------------------------------------------
  if (harnessError) {
    exitCode = 2;
    result.ok = false;
  } else if (opts.expectFailure) {
    result.ok = !result.connected && (!opts.expectCorsBlock || result.cors_errors.length > 0);
    if (!result.ok) {
      const why = result.connected
        ? 'expected the connection to fail, but it connected'
        : `expected a CORS block, but the browser reported none (${result.error ?? 'no error'})`;
      result.error = result.error ? `${why}; ${result.error}` : why;
    }
    exitCode = result.ok ? 0 : 1;
  } else {
    const flowOk = result.connected && result.sent && result.received && result.disconnected;
    result.ok = flowOk && result.cors_errors.length === 0;
    if (!result.ok && !result.error) {
      result.error = result.cors_errors.length
        ? `CORS errors during the session: ${result.cors_errors.join('; ')}`
        : `flow incomplete (connected=${result.connected} sent=${result.sent} received=${result.received} disconnected=${result.disconnected})`;
    }
    exitCode = result.ok ? 0 : 1;
  }
  if (harnessError) process.stderr.write(`strophe_browser: ${result.error}\n`);
  result.elapsed_ms = since();
  process.stdout.write(JSON.stringify(result) + '\n');
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`strophe_browser: internal error: ${e && e.stack ? e.stack : e}\n`);
    process.stdout.write(JSON.stringify({ ok: false, error: `internal error: ${e && e.message ? e.message : e}` }) + '\n');
    process.exit(2);
  },
);
