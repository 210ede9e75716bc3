//! `bosh-load`: a BOSH load generator (XEP-0124/XEP-0206).
//!
//! Opens `--sessions N` BOSH sessions to `--url`, logs each in (SASL PLAIN,
//! through `bosh_driver::xmpp_login`) as `{users-prefix}{i % users}@{domain}`
//! with a resource of its own, sends available presence, and then either
//!
//! - **message mode** (default): pairs sessions (0,1), (2,3), …; each side
//!   sends `--messages M` chat messages to the other's full JID, at most
//!   `--window W` unanswered at a time, each with its send time in its `id`.
//!   It reports messages per second (received messages over the messaging
//!   phase), send→receive latency percentiles and errors; or
//! - **idle mode** (`--idle-secs S`): keeps every session long-polling for
//!   `S` seconds and reports the RSS growth per session of each `--pid`.
//!
//! `--pid PID` (repeatable) samples `VmRSS` of that process every 200 ms:
//! before the logins, at the end of the measured phase, and the peak.
//! Everything is bounded by `--timeout-secs`; the sessions are terminated at
//! the end. One JSON line on stdout with `--json`, a summary on stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use runtime_tokio::client::{
    self, ClientConfig, ClientOptions, Credentials, Event, EventStream, Http2Connections,
    xmpp_login::{escape_xml, stanza_info},
};
use tokio::sync::{Semaphore, mpsc, watch};

/// BOSH load generator: N sessions, XMPP login, M messages between pairs.
#[derive(Debug, Parser, Clone)]
#[command(name = "bosh-load", version, about)]
struct Args {
    /// BOSH endpoint, e.g. http://127.0.0.1:5280/http-bind.
    #[arg(long)]
    url: String,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 10)]
    sessions: usize,
    /// Messages sent by each side of a pair (so 2*M per pair).
    #[arg(long, default_value_t = 100)]
    messages: usize,
    /// Messages in flight per sender (closed loop).
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Open loop instead: each sender sends this many messages per second
    /// on a fixed schedule, whatever has arrived (`--window` is ignored).
    /// A send never waits for the target, so a target that falls behind
    /// cannot hide it by slowing the senders down; every target gets the
    /// same offered load per session. Latency is measured from the moment
    /// the message is handed to the BOSH client (queueing behind the
    /// session's `requests` limit included), not from the schedule: the
    /// generator's own timer lag (tokio rounds deadlines up to a
    /// millisecond) is the target's doing in no way, and is reported apart
    /// as `send_lag_*`.
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Accounts are PREFIX0 .. PREFIX{users-1}.
    #[arg(long, default_value = "load")]
    users_prefix: String,
    /// Registered accounts (session i logs in as user i % users). Default: sessions.
    #[arg(long)]
    users: Option<usize>,
    #[arg(long, default_value = "loadpw")]
    password: String,
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// Process whose VmRSS is sampled (repeatable).
    #[arg(long = "pid")]
    pids: Vec<u32>,
    /// Idle mode: hold the sessions long-polling for this many seconds.
    #[arg(long)]
    idle_secs: Option<u64>,
    /// BOSH `wait` asked for, in seconds.
    #[arg(long, default_value_t = 60)]
    wait: u16,
    /// Logins in progress at once.
    #[arg(long, default_value_t = 64)]
    login_concurrency: usize,
    /// Bound on one login attempt (connect, SASL, bind).
    #[arg(long, default_value_t = 60)]
    login_timeout_secs: u64,
    /// Login attempts per session (a failed attempt's session is terminated
    /// and a new one created); retries are reported as `login_retries`.
    #[arg(long, default_value_t = 1)]
    login_attempts: u32,
    /// Bound on the whole run (ramp-up plus messaging or idle phase).
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// Chat body size in bytes.
    #[arg(long, default_value_t = 64)]
    body_bytes: usize,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Idle HTTP connections each session keeps for reuse. 2 (the default)
    /// is what a browser does for a BOSH page with `hold='1'`: both request
    /// slots stay on kept-alive connections. 1 closes the second connection
    /// after each burst and opens a new one for the next (the idle run uses
    /// it so that 10 000 sessions fit under a 20 000 descriptor limit).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=8))]
    idle_connections: u16,
    /// Send every session's requests as streams of at most N shared h2c
    /// connections (HTTP/2 with prior knowledge; the target must accept it,
    /// e.g. `bosh-cm --http2 true`) instead of HTTP/1.1 connections of its
    /// own. Unset: HTTP/1.1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    http2_connections: Option<u16>,
    /// How long a session waits, after `<stream:features/>` or a binding
    /// result, for the login's next request before sending an empty poll
    /// (the client's `reply_window`). 0 polls at once, as before that
    /// option existed: a poll and the login's answer then race on two
    /// connections, which stalls logins on ejabberd's own BOSH. Unset: the
    /// client's default.
    #[arg(long, value_name = "MS")]
    reply_window_ms: Option<u64>,
    /// A label copied into the output (e.g. "prosody" or "bosh-cm+prosody").
    #[arg(long, default_value = "")]
    label: String,
    /// Also write every received message as a CSV line `session,sent_ms,latency_ms`
    /// to this file, with `sent_ms` counted from the start of the message phase
    /// (to see when in the phase the slow messages were sent, and by whom).
    #[arg(long, value_name = "PATH")]
    latencies_csv: Option<std::path::PathBuf>,
    /// Print one JSON line on stdout.
    #[arg(long)]
    json: bool,
}

/// What one session reports when its measured phase ends.
#[derive(Debug, Default)]
struct SessionReport {
    /// The session's index.
    session: usize,
    logged_in: bool,
    login_ms: u32,
    sent: u64,
    received: u64,
    latencies_us: Vec<u32>,
    /// With `--latencies-csv`: each received message's send stamp (µs since
    /// `base`), in the order of `latencies_us`.
    sent_us: Vec<u64>,
    /// Open loop: how late each send left after its scheduled time (the
    /// generator's own timer slack, which the latencies include).
    send_lags_us: Vec<u32>,
    /// Micros since `base` of the last message received.
    last_rx_us: u64,
    errors: BTreeMap<&'static str, u64>,
}

impl SessionReport {
    fn error(&mut self, kind: &'static str) {
        *self.errors.entry(kind).or_default() += 1;
    }
}

struct Shared {
    args: Args,
    base: Instant,
    logged_in: Vec<AtomicBool>,
    done_logins: AtomicUsize,
    login_retries: AtomicUsize,
    /// Login failures already described on stderr.
    failure_notes: AtomicUsize,
    /// `windows[i]`: the permits of session i for sending to its peer.
    windows: Vec<Arc<Semaphore>>,
    login_gate: Semaphore,
    tag: String,
    body: String,
    /// Every session's client configuration (`--wait`, `--reply-window-ms`).
    session: ClientConfig,
    /// The h2c connections every session shares (`--http2-connections`).
    http2: Option<Http2Connections>,
}

impl Shared {
    fn user(&self, i: usize) -> String {
        let users = self.args.users.unwrap_or(self.args.sessions).max(1);
        format!("{}{}", self.args.users_prefix, i % users)
    }
    fn resource(&self, i: usize) -> String {
        format!("{}-{i}", self.tag)
    }
    fn full_jid(&self, i: usize) -> String {
        format!("{}@{}/{}", self.user(i), self.args.domain, self.resource(i))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Ramp,
    Go,
    Stop,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The client's own logs, on stderr, only when RUST_LOG asks for them
    // (e.g. RUST_LOG=bosh_driver::client=debug to follow every request).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
    // Up to 2 HTTP connections per session in flight, `idle_connections`
    // kept between requests.
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let per_session = if args.http2_connections.is_some() {
        0
    } else if args.idle_secs.is_some() {
        usize::from(args.idle_connections)
    } else {
        2
    };
    if (nofile as usize) < args.sessions * per_session + 64 {
        note(&format!(
            "warning: open-file limit {nofile} may be too low for {} sessions",
            args.sessions
        ));
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            note(&format!("cannot build the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    // Every session's client configuration, checked once.
    let mut session = ClientOptions::new(args.domain.clone()).session;
    session.wait = args.wait;
    if let Some(ms) = args.reply_window_ms {
        session.reply_window = Duration::from_millis(ms);
    }
    if let Err(e) = session.validate() {
        note(&format!("bad client settings: {e}"));
        return ExitCode::from(2);
    }
    let code = rt.block_on(run(args, session));
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

#[derive(Debug, Default, Clone, Copy)]
struct Rss {
    before: u64,
    last: u64,
    peak: u64,
}

fn read_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn run(args: Args, client_config: ClientConfig) -> ExitCode {
    let n = args.sessions;
    let base = Instant::now();
    let tag = format!(
        "b{}x{}",
        std::process::id(),
        base.elapsed().as_nanos() % 100_000
    );
    let shared = Arc::new(Shared {
        base,
        logged_in: (0..n).map(|_| AtomicBool::new(false)).collect(),
        done_logins: AtomicUsize::new(0),
        login_retries: AtomicUsize::new(0),
        failure_notes: AtomicUsize::new(0),
        windows: (0..n)
            .map(|_| Arc::new(Semaphore::new(args.window.max(1))))
            .collect(),
        login_gate: Semaphore::new(args.login_concurrency.max(1)),
        tag,
        body: "x".repeat(args.body_bytes),
        session: client_config,
        http2: args
            .http2_connections
            .map(|n| Http2Connections::new(usize::from(n))),
        args: args.clone(),
    });

    // RSS sampling.
    let rss: Arc<Mutex<Vec<(u32, Rss)>>> = Arc::new(Mutex::new(
        args.pids
            .iter()
            .map(|&p| {
                let v = read_rss_kib(p).unwrap_or(0);
                (
                    p,
                    Rss {
                        before: v,
                        last: v,
                        peak: v,
                    },
                )
            })
            .collect(),
    ));
    let client_rss_before = read_rss_kib(std::process::id()).unwrap_or(0);
    let sampler = {
        let rss = rss.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mut g = rss.lock().unwrap_or_else(|e| e.into_inner());
                for (pid, r) in g.iter_mut() {
                    if let Some(v) = read_rss_kib(*pid) {
                        r.last = v;
                        r.peak = r.peak.max(v);
                    }
                }
            }
        })
    };

    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let (phase_tx, phase_rx) = watch::channel(Phase::Ramp);
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<SessionReport>();
    let mut handles = Vec::with_capacity(n);
    let ramp_start = Instant::now();
    for i in 0..n {
        let shared = shared.clone();
        let phase_rx = phase_rx.clone();
        let report_tx = report_tx.clone();
        handles.push(tokio::spawn(session(
            i, shared, phase_rx, report_tx, deadline,
        )));
    }
    drop(report_tx);

    // Ramp-up: until every session finished its login attempt (or the deadline).
    while shared.done_logins.load(Ordering::Acquire) < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_secs = ramp_start.elapsed().as_secs_f64();
    let logged_in = shared
        .logged_in
        .iter()
        .filter(|b| b.load(Ordering::Acquire))
        .count();
    note(&format!(
        "{}: {logged_in}/{n} sessions logged in in {ramp_secs:.1} s",
        args.label
    ));

    let phase_start = Instant::now();
    let phase_start_us = phase_start.duration_since(base).as_micros() as u64;
    let _ = phase_tx.send(Phase::Go);
    let mut reports = Vec::with_capacity(n);
    // Memory at the end of the measured phase, while every session is still
    // open: in idle mode before `Stop`, which starts the terminates.
    let read_rss_end = || -> (Vec<(u32, Rss)>, u64) {
        let mut g = rss.lock().unwrap_or_else(|e| e.into_inner());
        for (pid, r) in g.iter_mut() {
            if let Some(v) = read_rss_kib(*pid) {
                r.last = v;
                r.peak = r.peak.max(v);
            }
        }
        (
            g.clone(),
            Instant::now().duration_since(base).as_micros() as u64,
        )
    };
    let mut idle_end = None;
    let mut stop_us = None;
    if let Some(idle) = args.idle_secs {
        let until = (tokio::time::Instant::now() + Duration::from_secs(idle)).min(deadline);
        tokio::time::sleep_until(until).await;
        idle_end = Some((read_rss_end(), phase_start.elapsed().as_secs_f64()));
        stop_us = Some(Instant::now().duration_since(base).as_micros() as u64);
        let _ = phase_tx.send(Phase::Stop);
    }
    // Message mode: each session reports when done; idle mode: on Stop.
    while reports.len() < n {
        match tokio::time::timeout_at(deadline, report_rx.recv()).await {
            Ok(Some(r)) => reports.push(r),
            Ok(None) => break,
            Err(_) => {
                let _ = phase_tx.send(Phase::Stop);
                // Late reports arrive at once after Stop.
                while let Ok(Some(r)) =
                    tokio::time::timeout(Duration::from_secs(5), report_rx.recv()).await
                {
                    reports.push(r);
                    if reports.len() == n {
                        break;
                    }
                }
                break;
            }
        }
    }
    let ((rss_end, rss_read_us), phase_secs) =
        idle_end.unwrap_or_else(|| (read_rss_end(), phase_start.elapsed().as_secs_f64()));
    let stop_us = stop_us.unwrap_or_else(|| Instant::now().duration_since(base).as_micros() as u64);
    let client_rss = read_rss_kib(std::process::id()).unwrap_or(0);
    sampler.abort();

    // Terminate every session (bounded).
    let _ = phase_tx.send(Phase::Stop);
    let stop_deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    for h in handles {
        if tokio::time::timeout_at(stop_deadline, h).await.is_err() {
            break;
        }
    }

    // Aggregate.
    let mut errors: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut lat: Vec<u32> = Vec::new();
    let mut lags: Vec<u32> = Vec::new();
    let (mut sent, mut received) = (0u64, 0u64);
    let mut last_rx_us = 0u64;
    let mut login_ms: Vec<u32> = Vec::new();
    for r in &reports {
        sent += r.sent;
        received += r.received;
        last_rx_us = last_rx_us.max(r.last_rx_us);
        lat.extend_from_slice(&r.latencies_us);
        lags.extend_from_slice(&r.send_lags_us);
        for (k, v) in &r.errors {
            *errors.entry(k).or_default() += v;
        }
        if r.logged_in {
            login_ms.push(r.login_ms);
        }
    }
    if let Some(path) = &args.latencies_csv
        && let Err(e) = write_latencies_csv(path, &reports, phase_start_us)
    {
        note(&format!("cannot write {}: {e}", path.display()));
    }
    let missing_reports = n.saturating_sub(reports.len()) as u64;
    if missing_reports > 0 {
        *errors.entry("no_report").or_default() += missing_reports;
    }
    if args.idle_secs.is_none() && sent > received {
        *errors.entry("lost").or_default() += sent - received;
    }
    let error_total: u64 = errors.values().sum();
    lat.sort_unstable();
    lags.sort_unstable();
    login_ms.sort_unstable();
    let pct = |v: &[u32], p: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let idx = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        f64::from(v[idx])
    };
    let p50 = pct(&lat, 0.50) / 1000.0;
    let p99 = pct(&lat, 0.99) / 1000.0;
    let max = pct(&lat, 1.0) / 1000.0;
    // NaN (null) in the closed loop, which has no schedule.
    let lag_p50 = pct(&lags, 0.50) / 1000.0;
    let lag_p99 = pct(&lags, 0.99) / 1000.0;
    // Throughput over the time until the last message arrived (a lost
    // message must not stretch the phase to the timeout).
    let active_secs = last_rx_us.saturating_sub(phase_start_us) as f64 / 1e6;
    let msgs_per_sec = if args.idle_secs.is_none() && active_secs > 0.0 {
        received as f64 / active_secs
    } else {
        0.0
    };
    let per_session = |r: &Rss| -> f64 {
        if logged_in == 0 {
            f64::NAN
        } else {
            (r.last as f64 - r.before as f64) / logged_in as f64
        }
    };

    let mode = if args.idle_secs.is_some() {
        "idle"
    } else {
        "messages"
    };
    let rss_json: Vec<String> = rss_end
        .iter()
        .map(|(pid, r)| {
            format!(
                "{{\"pid\":{pid},\"before_kib\":{},\"after_kib\":{},\"peak_kib\":{},\"per_session_kib\":{}}}",
                r.before,
                r.last,
                r.peak,
                num(per_session(r))
            )
        })
        .collect();
    let errors_json: Vec<String> = errors.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    let json = format!(
        "{{\"label\":\"{}\",\"url\":\"{}\",\"mode\":\"{mode}\",\"sessions\":{n},\"logged_in\":{logged_in},\
         \"messages_per_side\":{},\"window\":{},\"rate\":{},\"idle_connections\":{},\"http2_connections\":{},\"wait\":{},\"reply_window_ms\":{},\"idle_secs\":{},\"sent\":{sent},\"received\":{received},\
         \"ramp_secs\":{:.3},\"phase_secs\":{:.3},\"active_secs\":{:.3},\"msgs_per_sec\":{:.1},\"p50_ms\":{},\"p99_ms\":{},\"max_ms\":{},\
         \"login_retries\":{},\"login_p50_ms\":{},\"login_p99_ms\":{},\"errors\":{error_total},\"error_kinds\":{{{}}},\"rss\":[{}],\
         \"client_rss_before_kib\":{client_rss_before},\"client_rss_kib\":{client_rss},\
         \"rss_read_us\":{rss_read_us},\"stop_us\":{stop_us},\
         \"send_lag_p50_ms\":{},\"send_lag_p99_ms\":{}}}",
        escape_json(&args.label),
        escape_json(&args.url),
        args.messages,
        args.window,
        args.rate.map_or("null".to_owned(), |r| r.to_string()),
        args.idle_connections,
        args.http2_connections
            .map_or("null".to_owned(), |n| n.to_string()),
        args.wait,
        shared.session.reply_window.as_millis(),
        args.idle_secs.map_or("null".to_owned(), |s| s.to_string()),
        ramp_secs,
        phase_secs,
        active_secs,
        msgs_per_sec,
        num(p50),
        num(p99),
        num(max),
        shared.login_retries.load(Ordering::Relaxed),
        num(pct(&login_ms, 0.5)),
        num(pct(&login_ms, 0.99)),
        errors_json.join(","),
        rss_json.join(","),
        num(lag_p50),
        num(lag_p99),
    );
    let mut summary = format!(
        "{} [{mode}] {n} sessions ({logged_in} logged in, ramp {ramp_secs:.1} s): ",
        args.label
    );
    if args.idle_secs.is_some() {
        summary.push_str(&format!("held {phase_secs:.1} s; "));
    } else {
        if let Some(rate) = args.rate {
            summary.push_str(&format!(
                "open loop at {rate} msg/s per sender (sends left {lag_p50:.2} / {lag_p99:.2} ms after schedule at p50 / p99, not in the latencies): "
            ));
        }
        summary.push_str(&format!(
            "{received}/{sent} msgs in {active_secs:.2} s (phase {phase_secs:.1} s) = {msgs_per_sec:.0} msg/s, p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.1} ms; "
        ));
    }
    summary.push_str(&format!(
        "errors {error_total} {errors:?}, login retries {}",
        shared.login_retries.load(Ordering::Relaxed)
    ));
    for (pid, r) in &rss_end {
        summary.push_str(&format!(
            "; pid {pid} RSS {} -> {} KiB (peak {}), {:.2} KiB/session",
            r.before,
            r.last,
            r.peak,
            per_session(r)
        ));
    }
    note(&summary);
    if args.json {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{json}");
        let _ = out.flush();
    }
    if logged_in == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "null".to_owned()
    }
}

fn escape_json(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `--rate`: messages per second per sender, 0.01 ..= 100 000.
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if (0.01..=100_000.0).contains(&rate) {
        Ok(rate)
    } else {
        Err("must be between 0.01 and 100000 messages per second".to_owned())
    }
}

/// Writes `session,sent_ms,latency_ms` for every received message.
fn write_latencies_csv(
    path: &std::path::Path,
    reports: &[SessionReport],
    phase_start_us: u64,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "session,sent_ms,latency_ms")?;
    for r in reports {
        for (&sent, &lat) in r.sent_us.iter().zip(&r.latencies_us) {
            let sent_ms = (sent as f64 - phase_start_us as f64) / 1e3;
            writeln!(
                out,
                "{},{sent_ms:.3},{:.3}",
                r.session,
                f64::from(lat) / 1e3
            )?;
        }
    }
    out.flush()
}

fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "bosh-load: {text}");
}

async fn session(
    i: usize,
    shared: Arc<Shared>,
    mut phase_rx: watch::Receiver<Phase>,
    report_tx: mpsc::UnboundedSender<SessionReport>,
    deadline: tokio::time::Instant,
) {
    let args = &shared.args;
    let mut report = SessionReport {
        session: i,
        ..SessionReport::default()
    };
    let jid = format!("{}@{}/{}", shared.user(i), args.domain, shared.resource(i));

    // Login, at most `login_concurrency` at once.
    let retries = &shared.login_retries;
    let login = async {
        let _permit = shared.login_gate.acquire().await.ok()?;
        let t0 = Instant::now();
        let credentials = match Credentials::new(&jid, args.password.clone()) {
            Ok(c) => c,
            Err(_) => return Some(Err("bad_jid")),
        };
        let mut attempt = 0;
        let (client, events) = loop {
            attempt += 1;
            let mut options = ClientOptions::new(args.domain.clone());
            options.session = shared.session.clone();
            options.max_idle_connections = usize::from(args.idle_connections);
            options.http2 = shared.http2.clone();
            let (client, mut events) = match client::connect(&args.url, options).await {
                Ok(c) => c,
                Err(_) if attempt < args.login_attempts => continue,
                Err(_) => return Some(Err("connect_failed")),
            };
            let timeout = Duration::from_secs(args.login_timeout_secs);
            match client::login(&client, &mut events, &credentials, timeout).await {
                Ok(_) => break (client, events),
                Err(e) => {
                    let _ = client.terminate(Vec::<String>::new());
                    if attempt < args.login_attempts {
                        retries.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    // The last attempt's reason, on stderr (a few: enough
                    // to tell a server's refusal from a connection failure).
                    if shared.failure_notes.fetch_add(1, Ordering::Relaxed) < 20 {
                        note(&format!(
                            "session {i}: login failed after {attempt} attempts: {e}"
                        ));
                    }
                    return Some(Err(if e.is_auth_failure() {
                        "auth_failed"
                    } else if matches!(e, client::LoginError::TimedOut) {
                        "login_timeout"
                    } else {
                        "login_failed"
                    }));
                }
            }
        };
        if client.send("<presence xmlns='jabber:client'/>").is_err() {
            return Some(Err("send_failed"));
        }
        let _ = client.flush();
        // Logged in = our available presence came back (the server has
        // processed it), so messages to this full JID are deliverable.
        let mut events = events;
        let echo = tokio::time::timeout(Duration::from_secs(args.login_timeout_secs), async {
            while let Some(ev) = events.next_event().await {
                match ev {
                    Event::Stanza { stanza, .. }
                        if stanza.starts_with(b"<presence")
                            && stanza_info(&stanza)
                                .is_some_and(|i| i.from.as_deref() == Some(jid.as_str())) =>
                    {
                        return true;
                    }
                    Event::Disconnected(_) => return false,
                    _ => {}
                }
            }
            false
        })
        .await;
        if echo != Ok(true) {
            return Some(Err("presence_not_echoed"));
        }
        Some(Ok((client, events, t0.elapsed())))
    };
    let result = tokio::select! {
        r = login => r.unwrap_or(Err("login_failed")),
        _ = tokio::time::sleep_until(deadline) => Err("login_timeout"),
    };
    let (client, mut events) = match result {
        Ok((c, e, took)) => {
            report.logged_in = true;
            report.login_ms = took.as_millis().min(u128::from(u32::MAX)) as u32;
            shared.logged_in[i].store(true, Ordering::Release);
            shared.done_logins.fetch_add(1, Ordering::AcqRel);
            (c, e)
        }
        Err(kind) => {
            report.error(kind);
            shared.done_logins.fetch_add(1, Ordering::AcqRel);
            let _ = report_tx.send(report);
            return;
        }
    };

    // Wait for the go, draining events meanwhile. A peer that saw the go
    // first may already have sent a message, and this task may see that
    // message before the phase change (1000 tasks on 2 threads): messages
    // are kept for the exchange, never dropped.
    let mut alive = true;
    let mut early = Vec::new();
    while *phase_rx.borrow_and_update() == Phase::Ramp {
        tokio::select! {
            ev = events.next_event() => match ev {
                Some(Event::Disconnected(_)) | None => { alive = false; report.error("disconnected"); break; }
                Some(Event::Stanza { stanza, .. }) if stanza.starts_with(b"<message") => early.push(stanza),
                _ => {}
            },
            _ = phase_rx.changed() => {}
        }
    }

    if alive {
        if args.idle_secs.is_some() {
            idle(&mut events, &mut phase_rx, &mut report).await;
        } else {
            let peer = i ^ 1;
            if peer >= args.sessions {
                // Odd one out: no peer.
            } else if !shared.logged_in[peer].load(Ordering::Acquire) {
                report.error("peer_not_logged_in");
            } else {
                exchange(
                    i,
                    peer,
                    early,
                    &shared,
                    &client,
                    &mut events,
                    &mut phase_rx,
                    &mut report,
                    deadline,
                )
                .await;
            }
        }
    }
    let _ = report_tx.send(report);

    // Keep the session open until everyone is done, then terminate it.
    while *phase_rx.borrow_and_update() != Phase::Stop {
        tokio::select! {
            ev = events.next_event(), if alive => match ev {
                Some(Event::Disconnected(_)) | None => alive = false,
                _ => {}
            },
            r = phase_rx.changed() => if r.is_err() { break },
        }
    }
    if alive {
        let _ = client.terminate(["<presence xmlns='jabber:client' type='unavailable'/>"]);
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(ev) = events.next_event().await {
                if matches!(ev, Event::Disconnected(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

async fn idle(
    events: &mut EventStream,
    phase_rx: &mut watch::Receiver<Phase>,
    report: &mut SessionReport,
) {
    while *phase_rx.borrow_and_update() != Phase::Stop {
        tokio::select! {
            ev = events.next_event() => match ev {
                Some(Event::Disconnected(_)) | None => { report.error("disconnected"); return; }
                _ => {}
            },
            r = phase_rx.changed() => if r.is_err() { return },
        }
    }
}

/// Sleeps until `due` (never completes for `None`).
async fn sleep_until_due(due: Option<tokio::time::Instant>) {
    match due {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn exchange(
    i: usize,
    peer: usize,
    early: Vec<bytes::Bytes>,
    shared: &Shared,
    client: &client::BoshClient,
    events: &mut EventStream,
    phase_rx: &mut watch::Receiver<Phase>,
    report: &mut SessionReport,
    deadline: tokio::time::Instant,
) {
    let m = shared.args.messages as u64;
    let my_window = shared.windows[i].clone();
    let peer_window = &shared.windows[peer];
    let to = escape_xml(&shared.full_jid(peer));
    let peer_from = shared.full_jid(peer);
    let on_message = |stanza: &[u8], report: &mut SessionReport| {
        if !stanza.starts_with(b"<message") {
            return;
        }
        let Some(info) = stanza_info(stanza) else {
            report.error("unparsed_message");
            return;
        };
        if info.kind.as_deref() == Some("error") {
            report.error("bounced");
            return;
        }
        let Some(t) = info
            .id
            .as_deref()
            .and_then(|id| id.rsplit('-').next())
            .and_then(|t| t.parse::<u64>().ok())
        else {
            report.error("unparsed_message");
            return;
        };
        if info.from.as_deref() != Some(peer_from.as_str()) {
            // A resource of another run (its tag differs) is a message an
            // earlier run sent that the server delivered late, to the same
            // account's bare JID (RFC 6121 §8.5.3.2.1): told apart from a
            // misrouted message of this run.
            let this_run = info
                .from
                .as_deref()
                .and_then(|f| f.split_once('/'))
                .and_then(|(_, res)| res.strip_prefix(shared.tag.as_str()))
                .is_some_and(|rest| rest.starts_with('-'));
            report.error(if this_run {
                "unexpected_sender"
            } else {
                "from_earlier_run"
            });
            return;
        }
        let now = shared.base.elapsed().as_micros() as u64;
        report
            .latencies_us
            .push(now.saturating_sub(t).min(u64::from(u32::MAX)) as u32);
        if shared.args.latencies_csv.is_some() {
            report.sent_us.push(t);
        }
        report.received += 1;
        report.last_rx_us = now;
        peer_window.add_permits(1);
    };
    for stanza in &early {
        on_message(stanza, report);
    }
    // Open loop: send k is due at start + offset + k * interval, where the
    // offset spreads the senders over one interval (no lockstep bursts).
    let schedule = shared.args.rate.map(|rate| {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let offset = interval.mul_f64(i as f64 / shared.args.sessions.max(1) as f64);
        (tokio::time::Instant::now() + offset, interval)
    });
    let due = |k: u64| schedule.map(|(start, interval)| start + interval.mul_f64(k as f64));
    while report.sent < m || report.received < m {
        let next_due = due(report.sent);
        // `Some(t)`: send the next message, stamped `t` (µs since base).
        let send_at = tokio::select! {
            biased;
            ev = events.next_event() => match ev {
                None | Some(Event::Disconnected(_)) => { report.error("disconnected"); return; }
                Some(Event::Stanza { stanza, .. }) => { on_message(&stanza, report); None }
                Some(_) => None,
            },
            permit = my_window.acquire(), if report.sent < m && next_due.is_none() => {
                let Ok(permit) = permit else { return };
                permit.forget();
                Some(shared.base.elapsed().as_micros())
            },
            // The scheduled time, to measure how late the send leaves.
            () = sleep_until_due(next_due), if report.sent < m && next_due.is_some() => {
                next_due.map(|d| d.into_std().duration_since(shared.base).as_micros())
            },
            r = phase_rx.changed() => {
                if r.is_err() || *phase_rx.borrow() == Phase::Stop {
                    report.error("timeout");
                    return;
                }
                None
            },
            _ = tokio::time::sleep_until(deadline) => { report.error("timeout"); return; }
        };
        if let Some(scheduled) = send_at {
            // Stamped now: the latency is the target's, from the hand-over
            // to the BOSH client.
            let t = shared.base.elapsed().as_micros();
            if next_due.is_some() {
                let lag = t.saturating_sub(scheduled);
                report
                    .send_lags_us
                    .push(lag.min(u128::from(u32::MAX)) as u32);
            }
            let msg = format!(
                "<message xmlns='jabber:client' to='{to}' type='chat' id='L{}-{t}'><body>{}</body></message>",
                report.sent, shared.body
            );
            if client.send(msg).is_err() {
                report.error("send_failed");
                return;
            }
            let _ = client.flush();
            report.sent += 1;
        }
    }
}
