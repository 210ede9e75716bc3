//! A throwaway ejabberd XMPP server for interoperability and load tests.
//!
//! The twin of `prosody.rs`. Self-contained (std only) so integration tests
//! can include it with
//!
//! ```ignore
//! #[path = "../../interop/ejabberd.rs"]
//! mod ejabberd;
//! ```
//!
//! [`Ejabberd::start`] writes a loopback-only configuration into a fresh
//! temporary directory, starts `ejabberdctl ... foreground` as a child process
//! (as the `ejabberd` user when running as root), waits (bounded) until the
//! c2s port accepts, ejabberd's own BOSH endpoint answers and
//! `ejabberdctl status` reports `started`, then registers the given users with
//! one `ejabberdctl import_piefxis` call. Dropping the value stops ejabberd
//! (SIGTERM to its VM, SIGKILL to the process group after 5 s), ends any
//! `epmd` that was started for this instance and removes the directory (set
//! `BOSH_INTEROP_KEEP=1` to keep it for debugging).
//!
//! Erlang distribution runs without epmd: `ERL_DIST_PORT` gives every
//! instance its own distribution port on 127.0.0.1 (ejabberdctl then passes
//! `-erl_epmd_port PORT -start_epmd false`), and its own cookie in its own
//! `$HOME`. Parallel instances therefore never share an epmd, a node name or
//! a cookie. As a second line of defence `ERL_EPMD_PORT` is set to a private
//! free port, so an epmd that something might still start is private too, and
//! [`Ejabberd::stop`] ends it (found by that port in its environment).
//!
//! Install the server with `scripts/install-test-deps` (Debian `ejabberd`).
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::fmt;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[path = "common.rs"]
#[allow(clippy::duplicate_mod)]
mod common;
#[allow(unused_imports)]
pub(crate) use common::INSTALL_HINT;
use common::{
    StartError, eprintln_kept, find_in_path, free_ports, http_get_contains, make_temp_dir,
    read_lossy, run_bounded,
};

/// The XMPP domain every test user lives on.
pub(crate) const DOMAIN: &str = "localhost";

/// Path of ejabberd's own BOSH endpoint (`mod_bosh`) on the HTTP listener.
pub(crate) const BOSH_PATH: &str = "/bosh";

/// How long [`Ejabberd::start`] waits for the ports and for `status`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `ejabberdctl` command may take (one Erlang VM start each).
const CTL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`Ejabberd::stop`] waits after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts with fresh ports when a port was taken between picking and binding.
const START_ATTEMPTS: u32 = 3;
/// The system user the Debian package runs ejabberd as.
const EJABBERD_USER: &str = "ejabberd";

/// Knobs for [`Ejabberd::start_with`].
#[derive(Debug, Clone, Default)]
pub(crate) struct EjabberdOptions {
    /// ejabberd `loglevel`: `none`, `emergency`, `alert`, `critical`,
    /// `error`, `warning`, `notice`, `info` (default when `None`) or `debug`.
    /// Use `warning` for load runs: `info` logs every session.
    pub(crate) log_level: Option<String>,
    /// mod_bosh `max_inactivity` in seconds (default 120 here, 30 in ejabberd).
    pub(crate) bosh_max_inactivity_secs: Option<u32>,
    /// Extra YAML appended at the top level of `ejabberd.yml`. It must not
    /// repeat a top-level key the generated config already has (see
    /// [`Ejabberd::config_path`]).
    pub(crate) extra_config: String,
}

/// A running ejabberd on 127.0.0.1. Stopped on drop.
pub(crate) struct Ejabberd {
    /// Client-to-server (XMPP) port on 127.0.0.1.
    pub(crate) c2s_port: u16,
    /// HTTP port on 127.0.0.1; ejabberd's own BOSH endpoint is `/bosh`.
    pub(crate) http_port: u16,
    /// Erlang distribution port on 127.0.0.1 (`ERL_DIST_PORT`, no epmd).
    pub(crate) dist_port: u16,
    /// Private `ERL_EPMD_PORT` of this instance (normally nothing listens).
    pub(crate) epmd_port: u16,
    /// Temporary directory: config, cookie, spool (Mnesia), logs, pidfile.
    pub(crate) dir: PathBuf,
    node: String,
    /// `Some((uid, gid))` of the `ejabberd` user when we run as root.
    run_as: Option<(u32, u32)>,
    ctl: PathBuf,
    child: Option<Child>,
    keep_dir: bool,
}

impl fmt::Debug for Ejabberd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ejabberd")
            .field("c2s_port", &self.c2s_port)
            .field("http_port", &self.http_port)
            .field("dist_port", &self.dist_port)
            .field("node", &self.node)
            .field("dir", &self.dir)
            .field("ctl_pid", &self.child.as_ref().map(Child::id))
            .field("beam_pid", &self.beam_pid())
            .finish()
    }
}

impl Ejabberd {
    /// Starts ejabberd with stock test settings and registers `users` as
    /// `(localpart, password)` pairs on the domain `localhost`.
    pub(crate) fn start(users: &[(&str, &str)]) -> io::Result<Ejabberd> {
        Self::start_with(users, &EjabberdOptions::default())
    }

    /// Like [`Ejabberd::start`], with options (log level, extra config...).
    pub(crate) fn start_with(
        users: &[(&str, &str)],
        opts: &EjabberdOptions,
    ) -> io::Result<Ejabberd> {
        let ctl = find_in_path("ejabberdctl").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("ejabberd not installed (no ejabberdctl): {INSTALL_HINT}"),
            )
        })?;
        for (user, _) in users {
            check_localpart(user)?;
        }
        let run_as = run_as_user()?;
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&ctl, run_as, users, opts) {
                Ok(e) => return Ok(e),
                // A port we picked was taken by someone else before ejabberd
                // bound it (ejabberd then exits): try again with fresh ports.
                Err(StartError::PortTaken(e)) => last_err = Some(e),
                Err(StartError::Other(e)) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("ejabberd did not start")))
    }

    fn try_start(
        ctl: &Path,
        run_as: Option<(u32, u32)>,
        users: &[(&str, &str)],
        opts: &EjabberdOptions,
    ) -> Result<Ejabberd, StartError> {
        static INSTANCE: AtomicU32 = AtomicU32::new(0);
        let [c2s_port, http_port, dist_port, epmd_port] = free_ports()?;
        let dir = make_temp_dir("bosh-interop-ejabberd")?;
        let keep_dir = std::env::var_os("BOSH_INTEROP_KEEP").is_some_and(|v| v != "0");
        let node = format!(
            "ejabberd-{}-{}@127.0.0.1",
            std::process::id(),
            INSTANCE.fetch_add(1, Ordering::Relaxed)
        );
        // From here on, dropping `me` cleans up (stops ejabberd, removes dir).
        let mut me = Ejabberd {
            c2s_port,
            http_port,
            dist_port,
            epmd_port,
            dir,
            node,
            run_as,
            ctl: ctl.to_path_buf(),
            child: None,
            keep_dir,
        };
        fs::create_dir_all(me.dir.join("spool"))?;
        fs::create_dir_all(me.dir.join("logs"))?;
        fs::create_dir_all(me.dir.join("ctl"))?;
        fs::write(me.config_path(), me.render_config(opts))?;
        fs::write(me.dir.join("ejabberdctl.cfg"), me.render_ctl_config())?;
        // Read by every VM through ERL_INETRC: resolve from this file only.
        fs::write(
            me.dir.join("inetrc"),
            "{lookup, [\"file\"]}.\n{host, {127,0,0,1}, [\"localhost\"]}.\n",
        )?;
        // Our own cookie in our own $HOME: no VM reads ~ejabberd/.erlang.cookie.
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(me.dir.join(".erlang.cookie"))?
            .write_all(random_cookie().as_bytes())?;
        me.chown_tree(&me.dir)?;

        let console = fs::File::create(me.console_path())?;
        let console_err = console.try_clone()?;
        let mut cmd = me.ctl_command();
        cmd.arg("foreground")
            // Own process group: holds ejabberdctl (bash) and the beam.smp VM,
            // the fallback target of stop(). Port programs (erl_child_setup,
            // memsup, eimp) make their own sessions and exit with the VM.
            .process_group(0)
            .stdout(console)
            .stderr(console_err);
        let child = cmd.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run {} ({e}): {INSTALL_HINT}", me.ctl.display()),
            )
        })?;
        me.child = Some(child);
        me.wait_ready()?;
        if !users.is_empty() {
            me.register_many(users)?;
        }
        Ok(me)
    }

    fn wait_ready(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        // 1. The c2s port accepts and GET /bosh answers with mod_bosh's page
        //    (proves both ports are this ejabberd's, not someone else's).
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                let log = self.log();
                let msg = format!("ejabberd exited during start-up ({status}); log:\n{log}");
                return Err(
                    if log.contains("address already in use") || log.contains("eaddrinuse") {
                        StartError::PortTaken(io::Error::new(io::ErrorKind::AddrInUse, msg))
                    } else {
                        StartError::Other(io::Error::other(msg))
                    },
                );
            }
            if TcpStream::connect_timeout(&self.c2s_addr(), Duration::from_millis(200)).is_ok()
                && http_get_contains(self.http_port, BOSH_PATH, "ejabberd mod_bosh")
            {
                break;
            }
            if Instant::now() >= deadline {
                return Err(self.not_ready_error("c2s/http ports"));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        // 2. `ejabberdctl status` says started (exit 0 = started).
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.not_ready_error("ejabberdctl status"));
            }
            match self.run_ctl(&["status"], left) {
                Ok((status, out))
                    if status.success() && out.contains("started with status: started") =>
                {
                    return Ok(());
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(self.not_ready_error("ejabberdctl status"));
                }
                Err(e) => return Err(StartError::Other(e)),
            }
        }
    }

    fn not_ready_error(&self, what: &str) -> StartError {
        StartError::Other(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "ejabberd not ready ({what}) on 127.0.0.1:{} (c2s) / :{} (http) after {:?}; log:\n{}",
                self.c2s_port,
                self.http_port,
                READY_TIMEOUT,
                self.log_tail(60)
            ),
        ))
    }

    /// ejabberd's own BOSH endpoint, `http://127.0.0.1:{http_port}/bosh`.
    pub(crate) fn bosh_url(&self) -> String {
        format!("http://127.0.0.1:{}{BOSH_PATH}", self.http_port)
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

    /// The Erlang node name, `ejabberd-{pid}-{n}@127.0.0.1`.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    /// Path of the generated `ejabberd.yml`.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.dir.join("ejabberd.yml")
    }

    /// Path of ejabberd's log file.
    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.join("logs").join("ejabberd.log")
    }

    fn console_path(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    /// Everything `ejabberdctl foreground` printed: the same lines as
    /// [`Ejabberd::log_path`] plus what came before the logger started
    /// (config errors, port conflicts). For failure messages; never fails.
    pub(crate) fn log(&self) -> String {
        let console = read_lossy(&self.console_path());
        if console.trim().is_empty() {
            read_lossy(&self.log_path())
        } else {
            console
        }
    }

    /// The last `n` lines of [`Ejabberd::log`].
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Whether `ejabberdctl foreground` (and so the VM) is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// OS pid of the beam.smp VM, if it is running (from the pidfile, checked
    /// to be a child of our `ejabberdctl`).
    pub(crate) fn beam_pid(&self) -> Option<u32> {
        let ctl_pid = self.child.as_ref()?.id();
        let pid = fs::read_to_string(self.dir.join("ejabberd.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&p| proc_ppid(p) == Some(ctl_pid));
        // Fallback (pidfile not written yet): the beam child of ejabberdctl.
        pid.or_else(|| {
            proc_pids()
                .into_iter()
                .find(|&p| proc_ppid(p) == Some(ctl_pid) && proc_comm(p).starts_with("beam"))
        })
    }

    /// Runs `ejabberdctl ARGS...` against this node (one short-lived Erlang
    /// VM, about 1 s) and returns its output; an error unless it exits 0.
    /// E.g. `ctl(&["connected_users_number"])`.
    pub(crate) fn ctl(&self, args: &[&str]) -> io::Result<String> {
        let (status, out) = self.run_ctl(args, CTL_TIMEOUT)?;
        if status.success() {
            Ok(out)
        } else {
            Err(io::Error::other(format!(
                "ejabberdctl {} failed ({status}): {out}",
                args.join(" ")
            )))
        }
    }

    /// Registers one more user (`ejabberdctl register USER localhost PW`).
    pub(crate) fn register(&self, user: &str, password: &str) -> io::Result<()> {
        check_localpart(user)?;
        self.ctl(&["register", user, DOMAIN, password]).map(|_| ())
    }

    /// Registers many users with one `ejabberdctl import_piefxis` call
    /// (XEP-0227 file; 1000 users take about 1.5 s, against about 1 s per
    /// user with [`Ejabberd::register`]). Fails if any user already exists.
    pub(crate) fn register_many(&self, users: &[(&str, &str)]) -> io::Result<()> {
        static FILE: AtomicU32 = AtomicU32::new(0);
        let mut xml = String::from(
            "<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='urn:xmpp:pie:0'>\n",
        );
        xml.push_str(&format!("<host jid='{DOMAIN}'>\n"));
        for (user, password) in users {
            check_localpart(user)?;
            xml.push_str(&format!(
                "<user name='{}' password='{}'/>\n",
                xml_escape(user),
                xml_escape(password)
            ));
        }
        xml.push_str("</host>\n</server-data>\n");
        let path = self.dir.join("ctl").join(format!(
            "users-{}.xml",
            FILE.fetch_add(1, Ordering::Relaxed)
        ));
        fs::write(&path, xml)?;
        self.chown(&path)?;
        let path_str = path.to_string_lossy().into_owned();
        let res = self.ctl(&["import_piefxis", &path_str]);
        let _ = fs::remove_file(&path);
        res.map(|_| ())
    }

    /// Stops the server now (also done on drop). Idempotent. SIGTERM to the
    /// VM (a clean shutdown takes about 1 s), SIGKILL to the process group
    /// after 5 s, then ends any epmd started with this instance's
    /// `ERL_EPMD_PORT`. Only processes of this instance are signalled.
    pub(crate) fn stop(&mut self) {
        // Checked to be our ejabberdctl's child; ejabberdctl is not reaped
        // yet, so neither pid can have been reused by another process.
        let beam = self.beam_pid();
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = beam {
                send_signal("TERM", &pid.to_string());
                let deadline = Instant::now() + STOP_TIMEOUT;
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            if matches!(child.try_wait(), Ok(None)) {
                // The process group is ejabberdctl's pid (process_group(0)):
                // ejabberdctl and the VM, nothing else.
                send_signal("KILL", &format!("-{}", child.id()));
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        for pid in self.epmd_pids() {
            send_signal("TERM", &pid.to_string());
            let deadline = Instant::now() + Duration::from_secs(2);
            while proc_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if proc_alive(pid) {
                send_signal("KILL", &pid.to_string());
            }
        }
    }

    /// Live `epmd` processes whose environment has this instance's
    /// `ERL_EPMD_PORT` (none in normal operation: distribution uses
    /// `ERL_DIST_PORT` and no epmd is started).
    pub(crate) fn epmd_pids(&self) -> Vec<u32> {
        let needle = format!("ERL_EPMD_PORT={}", self.epmd_port);
        proc_pids()
            .into_iter()
            .filter(|&p| proc_comm(p) == "epmd" && proc_alive(p))
            .filter(|&p| {
                fs::read(format!("/proc/{p}/environ"))
                    .map(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
                    .unwrap_or(false)
            })
            .collect()
    }

    /// `ejabberdctl` with this instance's config, node, cookie ($HOME) and
    /// user. The same for `foreground` and for every control command.
    fn ctl_command(&self) -> Command {
        let d = &self.dir;
        let mut cmd = Command::new(&self.ctl);
        cmd.arg("--config-dir")
            .arg(d)
            .arg("--ctl-config")
            .arg(d.join("ejabberdctl.cfg"))
            .arg("--config")
            .arg(self.config_path())
            .arg("--spool")
            .arg(d.join("spool"))
            .arg("--logs")
            .arg(d.join("logs"))
            .current_dir(d)
            .stdin(Stdio::null())
            // $HOME holds the per-instance .erlang.cookie.
            .env("HOME", d)
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            // Inherited Erlang flags would change every VM we start.
            .env_remove("ERL_FLAGS")
            .env_remove("ERL_AFLAGS")
            .env_remove("ERL_ZFLAGS")
            .env_remove("ERLANG_NODE")
            .env_remove("ERL_DIST_PORT");
        if let Some((uid, gid)) = self.run_as {
            // ejabberdctl refuses other users and would `su` from root; we
            // switch ourselves so the process tree stays ours and simple.
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn run_ctl(&self, args: &[&str], timeout: Duration) -> io::Result<(ExitStatus, String)> {
        static OUT: AtomicU32 = AtomicU32::new(0);
        let out = self
            .dir
            .join("ctl")
            .join(format!("ctl-{}.out", OUT.fetch_add(1, Ordering::Relaxed)));
        let mut cmd = self.ctl_command();
        cmd.args(args);
        let res = run_bounded(&mut cmd, &out, timeout);
        let _ = fs::remove_file(&out);
        res
    }

    fn chown(&self, path: &Path) -> io::Result<()> {
        match self.run_as {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
            None => Ok(()),
        }
    }

    fn chown_tree(&self, path: &Path) -> io::Result<()> {
        self.chown(path)?;
        if path.is_dir() {
            for entry in fs::read_dir(path)? {
                self.chown_tree(&entry?.path())?;
            }
        }
        Ok(())
    }

    fn render_ctl_config(&self) -> String {
        let d = self.dir.display();
        format!(
            r#"# Generated by interop/ejabberd.rs; sourced by ejabberdctl (bash).
ERLANG_NODE={node}
# Distribution without epmd, on this port only (ejabberdctl adds
# -erl_epmd_port PORT -start_epmd false, and -dist_listen false for clients).
ERL_DIST_PORT={dist}
ERL_EPMD_ADDRESS=127.0.0.1
# Listen for distribution on loopback only. Given directly instead of
# INET_DIST_INTERFACE, which costs an extra Erlang VM start per command.
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface {{127,0,0,1}}"
EJABBERD_PID_PATH={d}/ejabberd.pid
EJABBERD_BYPASS_WARNINGS=true
"#,
            node = self.node,
            dist = self.dist_port,
        )
    }

    fn render_config(&self, opts: &EjabberdOptions) -> String {
        let level = opts.log_level.as_deref().unwrap_or("info");
        let inactivity = opts.bosh_max_inactivity_secs.unwrap_or(120);
        format!(
            r#"# Generated by interop/ejabberd.rs for a loopback-only test server.
hosts:
  - "{domain}"
loglevel: {level}
log_rotate_count: 0
certfiles: []

# Local users only (mnesia in the spool dir), passwords stored in plain so
# that every SASL mechanism works. No in-band registration (no mod_register):
# users come from ejabberdctl only.
auth_method: internal
auth_password_format: plain
disable_sasl_mechanisms:
  - "digest-md5"
  - "x-oauth2"

# No server-to-server: no ejabberd_s2s_in listener, outgoing s2s denied.
s2s_access: none

# Load-test limits. The BOSH sessions of mod_bosh take max_stanza_size,
# shaper and access from the first ejabberd_c2s listener below.
#  - one user may hold any number of sessions (ejabberd's default config: 10)
#  - no traffic shaping after login either (default config: 'normal' = 3000 B/s)
#  - a c2s process may queue 100000 messages before it is killed (10000)
#  - caches (auth, roster, sm...) hold 100000 entries (1000: warns and evicts
#    once more than 1000 users log in)
#  - 120 s from connect to login instead of 30 s, for bursts of logins
shaper_rules:
  max_user_sessions: infinity
  c2s_shaper: none
  s2s_shaper: none
max_fsm_queue: 100000
cache_size: 100000
negotiation_timeout: 120

listen:
  -
    port: {c2s}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    starttls_required: false
    access: all
    shaper: none
    max_stanza_size: infinity
    max_fsm_queue: 100000
    # the listen(2) backlog; ejabberd's default is 5
    backlog: 1024
  -
    port: {http}
    ip: "127.0.0.1"
    module: ejabberd_http
    backlog: 1024
    request_handlers:
      "{bosh_path}": mod_bosh

modules:
  mod_bosh:
    # seconds a session may have no pending request (ejabberd default 30)
    max_inactivity: {inactivity}
    max_concat: unlimited
  mod_disco: {{}}
  mod_ping: {{}}
  mod_roster: {{}}
{extra}
"#,
            domain = DOMAIN,
            level = level,
            c2s = self.c2s_port,
            http = self.http_port,
            bosh_path = BOSH_PATH,
            inactivity = inactivity,
            extra = opts.extra_config,
        )
    }
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        self.stop();
        if self.keep_dir {
            eprintln_kept(&self.dir);
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `Some((uid, gid))` of the `ejabberd` user when we are root (ejabberdctl
/// runs only as root or as that user), `None` when we already are that user.
fn run_as_user() -> io::Result<Option<(u32, u32)>> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    let ids = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        match f.as_slice() {
            [name, _, uid, gid, ..] if *name == EJABBERD_USER => {
                Some((uid.parse::<u32>().ok()?, gid.parse::<u32>().ok()?))
            }
            _ => None,
        }
    });
    let Some((uid, gid)) = ids else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("ejabberd not installed (no user {EJABBERD_USER:?}): {INSTALL_HINT}"),
        ));
    };
    let status = fs::read_to_string("/proc/self/status")?;
    let me = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u32>().ok());
    match me {
        Some(0) => Ok(Some((uid, gid))),
        Some(u) if u == uid => Ok(None),
        _ => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "ejabberdctl runs only as root or as user ejabberd: run the ejabberd tests as root",
        )),
    }
}

fn check_localpart(user: &str) -> io::Result<()> {
    if user.is_empty()
        || user
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "@/\"&'<>:\\".contains(c))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid user localpart {user:?}"),
        ));
    }
    Ok(())
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// 32 random letters (std's `RandomState` is seeded from the OS).
fn random_cookie() -> String {
    let mut s = String::with_capacity(32);
    while s.len() < 32 {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(s.len());
        let mut v = h.finish();
        for _ in 0..8 {
            s.push(char::from(b'A' + (v % 26) as u8));
            v /= 26;
        }
    }
    s
}

/// Sends `kill -s SIG -- TARGET` through /bin/sh (TARGET is a pid, or
/// `-pgid` for a process group).
fn send_signal(sig: &str, target: &str) {
    let _ = Command::new("/bin/sh")
        .args(["-c", "kill -s \"$0\" -- \"$1\" 2>/dev/null", sig, target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn proc_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn proc_comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}

/// (state, ppid) from /proc/PID/stat (the comm field may contain spaces).
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((state, ppid))
}

fn proc_ppid(pid: u32) -> Option<u32> {
    proc_stat(pid)
        .filter(|(s, _)| !matches!(s, 'Z' | 'X'))
        .map(|(_, p)| p)
}

/// Exists and is not a zombie.
fn proc_alive(pid: u32) -> bool {
    proc_ppid(pid).is_some()
}
