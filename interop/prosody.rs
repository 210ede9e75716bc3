//! A throwaway Prosody XMPP server for interoperability tests.
//!
//! Self-contained (std only) so integration tests can include it with
//!
//! ```ignore
//! #[path = "../../interop/prosody.rs"]
//! mod prosody;
//! ```
//!
//! [`Prosody::start`] writes a loopback-only configuration into a fresh
//! temporary directory, registers the given users with `prosodyctl`, starts
//! `prosody -F` as a child process and waits (bounded) until both its c2s port
//! and its own BOSH endpoint answer. Dropping the value kills the child and
//! removes the directory (set `BOSH_INTEROP_KEEP=1` to keep it for debugging).
//!
//! Install the server with `scripts/install-test-deps` (Debian `prosody`).
#![allow(dead_code)]

use std::fmt;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common.rs"]
#[allow(clippy::duplicate_mod)]
mod common;
#[allow(unused_imports)]
pub(crate) use common::{INSTALL_HINT, free_port};
use common::{
    StartError, eprintln_kept, find_in_path, free_ports, http_get_contains, make_temp_dir,
    read_lossy, run_bounded,
};

/// The XMPP domain every test user lives on.
pub(crate) const DOMAIN: &str = "localhost";

/// How long [`Prosody::start`] waits for the server to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one `prosodyctl` invocation may take.
const PROSODYCTL_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts with fresh ports when a port was taken between picking and binding.
const START_ATTEMPTS: u32 = 3;

/// Knobs for [`Prosody::start_with`]. `Default` gives Prosody's stock BOSH
/// CORS behaviour: every origin allowed (the `Origin` is echoed in
/// `Access-Control-Allow-Origin`, `*` without one), no credentials.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProsodyOptions {
    /// `Some(list)`: only these origins (exact strings such as
    /// `"http://127.0.0.1:8000"`) get CORS headers on the BOSH endpoint,
    /// through `http_cors_override = { bosh = { ... origins = {...} } }`
    /// (the only form that works in Prosody 0.12.3). `None`: Prosody's
    /// default, any origin.
    pub(crate) bosh_cors_origins: Option<Vec<String>>,
    /// Send `Access-Control-Allow-Credentials: true` on the BOSH endpoint
    /// (needed for Strophe's `withCredentials: true`).
    pub(crate) bosh_cors_credentials: bool,
    /// Log level for the log file: `"debug"` (default when `None`), `"info"`...
    pub(crate) log_level: Option<String>,
    /// Extra Lua lines appended to the global section of the config.
    pub(crate) extra_global_config: String,
}

/// A running Prosody child process on 127.0.0.1. Killed on drop.
pub(crate) struct Prosody {
    /// Client-to-server (XMPP) port on 127.0.0.1.
    pub(crate) c2s_port: u16,
    /// HTTP port on 127.0.0.1; Prosody's own BOSH endpoint is `/http-bind`.
    pub(crate) http_port: u16,
    /// Temporary directory holding config, data, pidfile and logs.
    pub(crate) dir: PathBuf,
    child: Option<Child>,
    keep_dir: bool,
}

impl fmt::Debug for Prosody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prosody")
            .field("c2s_port", &self.c2s_port)
            .field("http_port", &self.http_port)
            .field("dir", &self.dir)
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish()
    }
}

impl Prosody {
    /// Starts Prosody with stock settings and registers `users` as
    /// `(localpart, password)` pairs on the domain `localhost`.
    pub(crate) fn start(users: &[(&str, &str)]) -> io::Result<Prosody> {
        Self::start_with(users, &ProsodyOptions::default())
    }

    /// Like [`Prosody::start`], with options (CORS restrictions, log level...).
    pub(crate) fn start_with(users: &[(&str, &str)], opts: &ProsodyOptions) -> io::Result<Prosody> {
        let prosody = find_in_path("prosody");
        let prosodyctl = find_in_path("prosodyctl");
        let (Some(prosody), Some(prosodyctl)) = (prosody, prosodyctl) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("prosody not installed: {INSTALL_HINT}"),
            ));
        };
        for (user, _) in users {
            if user.is_empty() || user.contains(['@', '/', ' ', '"', '\\']) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("invalid user localpart {user:?}"),
                ));
            }
        }
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&prosody, &prosodyctl, users, opts) {
                Ok(p) => return Ok(p),
                // A port we picked was taken by someone else before Prosody
                // bound it: try again with fresh ports.
                Err(StartError::PortTaken(e)) => last_err = Some(e),
                Err(StartError::Other(e)) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("prosody did not start")))
    }

    fn try_start(
        prosody: &Path,
        prosodyctl: &Path,
        users: &[(&str, &str)],
        opts: &ProsodyOptions,
    ) -> Result<Prosody, StartError> {
        let [c2s_port, http_port] = free_ports()?;
        let dir = make_temp_dir("bosh-interop-prosody")?;
        let keep_dir = std::env::var_os("BOSH_INTEROP_KEEP").is_some_and(|v| v != "0");
        // From here on, dropping `me` cleans up (kills the child, removes dir).
        let mut me = Prosody {
            c2s_port,
            http_port,
            dir,
            child: None,
            keep_dir,
        };
        fs::create_dir_all(me.dir.join("data"))?;
        fs::create_dir_all(me.dir.join("certs"))?;
        fs::write(me.config_path(), me.render_config(opts))?;

        for (user, password) in users {
            let out = run_bounded(
                Command::new(prosodyctl)
                    .arg("--config")
                    .arg(me.config_path())
                    .args(["register", user, DOMAIN, password]),
                &me.dir.join("prosodyctl.out"),
                PROSODYCTL_TIMEOUT,
            )?;
            if !out.0.success() {
                return Err(StartError::Other(io::Error::other(format!(
                    "prosodyctl register {user} {DOMAIN} failed ({}): {}",
                    out.0, out.1
                ))));
            }
        }

        let stdout = fs::File::create(me.dir.join("stdout.log"))?;
        let stderr = stdout.try_clone()?;
        let child = Command::new(prosody)
            .arg("-F")
            .arg("--config")
            .arg(me.config_path())
            .current_dir(&me.dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot run prosody ({e}): {INSTALL_HINT}"),
                )
            })?;
        me.child = Some(child);
        me.wait_ready()?;
        Ok(me)
    }

    fn wait_ready(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                let log = self.log();
                let msg = format!("prosody exited during start-up ({status}); log:\n{log}");
                return Err(
                    if log.contains("Failed to open server port")
                        || log.contains("Address already in use")
                    {
                        StartError::PortTaken(io::Error::new(io::ErrorKind::AddrInUse, msg))
                    } else {
                        StartError::Other(io::Error::other(msg))
                    },
                );
            }
            if self.log().contains("Failed to open server port") {
                return Err(StartError::PortTaken(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("prosody could not bind its ports; log:\n{}", self.log()),
                )));
            }
            // Ready when c2s accepts and our own BOSH endpoint answers the GET
            // (proves the HTTP port is Prosody's, not someone else's).
            let c2s = SocketAddr::from((Ipv4Addr::LOCALHOST, self.c2s_port));
            if TcpStream::connect_timeout(&c2s, Duration::from_millis(200)).is_ok()
                && http_get_contains(self.http_port, "/http-bind", "BOSH")
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Other(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "prosody not ready on 127.0.0.1:{} (c2s) / :{} (http) after {:?}; log:\n{}",
                        self.c2s_port,
                        self.http_port,
                        READY_TIMEOUT,
                        self.log()
                    ),
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Prosody's own BOSH endpoint, `http://127.0.0.1:{http_port}/http-bind`.
    pub(crate) fn bosh_url(&self) -> String {
        format!("http://127.0.0.1:{}/http-bind", self.http_port)
    }

    /// The c2s address a connection manager should dial.
    pub(crate) fn c2s_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.c2s_port))
    }

    /// The XMPP domain (`localhost`).
    pub(crate) fn domain(&self) -> &'static str {
        DOMAIN
    }

    /// Bare JID of a local user: `user@localhost`.
    pub(crate) fn jid(&self, user: &str) -> String {
        format!("{user}@{DOMAIN}")
    }

    /// Path of the generated config file.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.dir.join("prosody.cfg.lua")
    }

    /// Path of Prosody's log file.
    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.join("prosody.log")
    }

    /// Prosody's log file plus anything it printed on stdout/stderr, for
    /// failure messages. Never fails (read errors are described inline).
    pub(crate) fn log(&self) -> String {
        let mut s = read_lossy(&self.log_path());
        let console = read_lossy(&self.dir.join("stdout.log"));
        if !console.trim().is_empty() {
            s.push_str("\n--- prosody stdout/stderr ---\n");
            s.push_str(&console);
        }
        s
    }

    /// The last `n` lines of [`Prosody::log`].
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Whether the child is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Registers one more user on the running server.
    pub(crate) fn register(&self, user: &str, password: &str) -> io::Result<()> {
        let prosodyctl = find_in_path("prosodyctl").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("prosody not installed: {INSTALL_HINT}"),
            )
        })?;
        let (status, out) = run_bounded(
            Command::new(prosodyctl)
                .arg("--config")
                .arg(self.config_path())
                .args(["register", user, DOMAIN, password]),
            &self.dir.join("prosodyctl.out"),
            PROSODYCTL_TIMEOUT,
        )?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "prosodyctl register {user} failed ({status}): {out}"
            )))
        }
    }

    /// Kills the server now (also done on drop). Idempotent.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn render_config(&self, opts: &ProsodyOptions) -> String {
        let d = self.dir.display();
        let level = opts.log_level.as_deref().unwrap_or("debug");
        let mut cors = String::new();
        if opts.bosh_cors_origins.is_some() || opts.bosh_cors_credentials {
            cors.push_str("http_cors_override = {\n  bosh = {\n    enabled = true;\n");
            if opts.bosh_cors_credentials {
                cors.push_str("    credentials = true;\n");
            }
            if let Some(origins) = &opts.bosh_cors_origins {
                let list: Vec<String> = origins.iter().map(|o| lua_string(o)).collect();
                cors.push_str(&format!("    origins = {{ {} }};\n", list.join(", ")));
            }
            cors.push_str("  };\n}\n");
        }
        format!(
            r#"-- Generated by interop/prosody.rs for a loopback-only test server.
run_as_root = true
pidfile = {pidfile}
data_path = {data}
certificates = {certs}
log = {{ {level} = {log} }}

modules_enabled = {{ "disco", "roster", "saslauth", "ping", "posix", "bosh" }}
-- "presence", "message", "iq" and "offline" (message delivery, also to one's own
-- bare JID once available presence was sent) are core modules, always loaded.
modules_disabled = {{ "tls", "s2s" }}

authentication = "internal_plain"
storage = "internal"

c2s_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_ports = {{ }}
component_ports = {{ }}

http_interfaces = {{ "127.0.0.1" }}
http_ports = {{ {http} }}
https_ports = {{ }}
consider_bosh_secure = true
{cors}{extra}
VirtualHost "{domain}"
"#,
            pidfile = lua_string(&format!("{d}/prosody.pid")),
            data = lua_string(&format!("{d}/data")),
            certs = lua_string(&format!("{d}/certs")),
            log = lua_string(&format!("{d}/prosody.log")),
            level = level,
            c2s = self.c2s_port,
            http = self.http_port,
            cors = cors,
            extra = opts.extra_global_config,
            domain = DOMAIN,
        )
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.stop();
        if self.keep_dir {
            eprintln_kept(&self.dir);
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}
