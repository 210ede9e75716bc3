#!/usr/bin/env node
// Strophe.js (BOSH) in plain Node 20: no browser, no CORS, about 0.5 s a run.
//
//   node interop/strophe_node.mjs --bosh-url URL --jid user@localhost --password PW
//        [--expect-failure] [--timeout-ms N]
//
// Same flow as strophe_browser.mjs: connect, available presence, message to
// our own bare JID, wait for it, disconnect, wait for DISCONNECTED. Prints ONE
// line of JSON on stdout:
//   {"ok","connected","sent","received","disconnected","error","log":[...],...}
// Exit 0 when the outcome matches the expectation, 1 when not, 2 on usage or
// harness errors. Use the browser script for anything CORS-related.
//
// Strophe's Node build brings DOMParser (@xmldom/xmldom) and WebSocket (ws);
// BOSH needs an XMLHttpRequest, taken from `xhr2` with a `responseXML`
// getter added: Strophe 5.0.0 reads only `responseXML` and stays in
// CONNECTING forever without it.

const T0 = Date.now();
const since = () => Date.now() - T0;
const INSTALL_HINT = 'run scripts/install-test-deps';

function parseArgs(argv) {
  const o = { boshUrl: null, jid: null, password: null, expectFailure: false, timeoutMs: 30000, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--bosh-url': o.boshUrl = val(); break;
      case '--jid': o.jid = val(); break;
      case '--password': o.password = val(); break;
      case '--expect-failure': o.expectFailure = true; break;
      case '--timeout-ms': {
        const n = Number(val());
        if (!Number.isInteger(n) || n < 1000) throw new Error('--timeout-ms must be an integer >= 1000');
        o.timeoutMs = n;
        break;
      }
      case '--verbose': o.verbose = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.boshUrl || !o.jid || o.password === null) throw new Error('--bosh-url, --jid and --password are required');
  if (!/^[^@/\s]+@[^@/\s]+$/.test(o.jid)) throw new Error(`--jid must be a bare JID user@domain, got ${o.jid}`);
  return o;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\nusage: node strophe_node.mjs --bosh-url URL --jid USER@DOMAIN --password PW [--expect-failure] [--timeout-ms N]\n`);
    process.stdout.write(JSON.stringify({ ok: false, error: `usage: ${e.message}` }) + '\n');
    return 2;
  }
  const vlog = (...a) => { if (opts.verbose) process.stderr.write(`[${since()}ms] ${a.join(' ')}\n`); };

  let Strophe, $msg, $pres, XHR2;
  try {
    ({ Strophe, $msg, $pres } = await import('strophe.js'));
    XHR2 = (await import('xhr2')).default;
  } catch (e) {
    process.stderr.write(`strophe_node: ${e.message}\n`);
    process.stdout.write(JSON.stringify({ ok: false, error: `npm packages not installed (${e.message}): ${INSTALL_HINT}` }) + '\n');
    return 2;
  }
  class XHR extends XHR2 {
    get responseXML() {
      if (this.readyState !== 4 || !this.responseText) return null;
      return new globalThis.DOMParser().parseFromString(this.responseText, 'text/xml');
    }
  }
  globalThis.XMLHttpRequest = XHR;

  const result = {
    ok: false, expect_failure: opts.expectFailure, connected: false, sent: false, received: false,
    disconnected: false, bosh_url: opts.boshUrl, error: null, log: [], strophe_log: [], elapsed_ms: 0,
  };
  const names = {};
  for (const [k, v] of Object.entries(Strophe.Status)) names[v] = k;
  // Strophe logs through console.*: keep stdout for our one JSON line. Its
  // WARN/ERROR lines go into the result (and everything to stderr with
  // --verbose).
  Strophe.setLogLevel(opts.verbose ? Strophe.LogLevel.DEBUG : Strophe.LogLevel.WARN);
  for (const level of ['log', 'debug', 'info', 'warn', 'error', 'trace']) {
    console[level] = (...args) => {
      const text = args.map(String).join(' ');
      if (opts.verbose) process.stderr.write(`[${since()}ms console.${level}] ${text}\n`);
      if ((level === 'warn' || level === 'error') && result.strophe_log.length < 50) {
        result.strophe_log.push(`${level}: ${text.slice(0, 500)}`);
      }
    };
  }

  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const token = `interop-node-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const conn = new Strophe.Connection(opts.boshUrl);
  let messageSent = false;
  const sendMessage = () => {
    if (messageSent) return;
    messageSent = true;
    conn.send($msg({ to: opts.jid, type: 'chat', id: `msg-${token}` }).c('body').t(token));
    result.sent = true;
  };
  const timers = [];
  conn.connect(opts.jid, opts.password, (status, condition) => {
    const line = `+${since()}ms ${names[status] ?? status}${condition ? ':' + condition : ''}`;
    result.log.push(line);
    vlog(line);
    if (status === Strophe.Status.CONNECTED) {
      result.connected = true;
      result.full_jid = conn.jid;
      conn.addHandler((m) => {
        const body = m.getElementsByTagName('body')[0];
        if (body && body.textContent === token) {
          result.received = true;
          conn.disconnect('interop test done');
          return false;
        }
        return true;
      }, null, 'message');
      conn.addHandler((p) => {
        if (p.getAttribute('from') === conn.jid && p.getAttribute('type') !== 'unavailable') {
          sendMessage();
          return false;
        }
        return true;
      }, null, 'presence');
      conn.send($pres());
      timers.push(setTimeout(sendMessage, 2000));
    } else if (status === Strophe.Status.DISCONNECTED) {
      if (result.connected) result.disconnected = true;
      resolveDone('disconnected');
    } else if ([Strophe.Status.AUTHFAIL, Strophe.Status.CONNFAIL, Strophe.Status.CONNTIMEOUT, Strophe.Status.ERROR].includes(status)) {
      if (!result.error) result.error = `Strophe reported ${names[status]}${condition ? ':' + condition : ''}`;
      timers.push(setTimeout(() => resolveDone('failed'), 1500));
    }
  });

  const why = await Promise.race([done, new Promise((r) => timers.push(setTimeout(() => r('timeout'), opts.timeoutMs)))]);
  if (why === 'timeout' && !result.error) {
    result.error = `timed out after ${opts.timeoutMs} ms (last status: ${result.log.at(-1) ?? 'none'})`;
  }
  timers.forEach(clearTimeout);
  if (opts.expectFailure) {
    result.ok = !result.connected;
    if (!result.ok) result.error = 'expected the connection to fail, but it connected';
  } else {
    result.ok = result.connected && result.sent && result.received && result.disconnected;
    if (!result.ok && !result.error) {
      result.error = `flow incomplete (connected=${result.connected} sent=${result.sent} received=${result.received} disconnected=${result.disconnected})`;
    }
  }
  result.elapsed_ms = since();
  process.stdout.write(JSON.stringify(result) + '\n');
  return result.ok ? 0 : 1;
}

main().then(
  // Exit explicitly: Strophe's idle timer and open sockets would keep us alive.
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`strophe_node: internal error: ${e && e.stack ? e.stack : e}\n`);
    process.stdout.write(JSON.stringify({ ok: false, error: `internal error: ${e && e.message ? e.message : e}` }) + '\n');
    process.exit(2);
  },
);
