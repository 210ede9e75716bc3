//! Process, port and file helpers shared by the Prosody and ejabberd
//! launchers (`prosody.rs`, `ejabberd.rs`), which include this file as their
//! own `common` module. Standard library only, like them.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Hint printed whenever a tool is missing.
pub(crate) const INSTALL_HINT: &str = "run scripts/install-test-deps";

#[allow(clippy::print_stderr)]
pub(crate) fn eprintln_kept(dir: &Path) {
    eprintln!("BOSH_INTEROP_KEEP: keeping {}", dir.display());
}

pub(crate) enum StartError {
    PortTaken(io::Error),
    Other(io::Error),
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        StartError::Other(e)
    }
}

impl StartError {
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            StartError::PortTaken(e) | StartError::Other(e) => e,
        }
    }
}

/// Picks two distinct free ports on 127.0.0.1 (bind to :0, then release).
/// Both listeners are held at once so the two ports differ.
pub(crate) fn free_ports<const N: usize>() -> io::Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    let mut ports = [0u16; N];
    for (slot, l) in ports.iter_mut().zip(&listeners) {
        *slot = l.local_addr()?.port();
    }
    Ok(ports)
}

/// One free port on 127.0.0.1 (bind to :0, then release).
pub(crate) fn free_port() -> io::Result<u16> {
    let [p] = free_ports::<1>()?;
    Ok(p)
}

pub(crate) fn make_temp_dir(prefix: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("{prefix}-{}-{n}-{nanos:08x}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("cannot create a temporary directory"))
}

pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub(crate) fn read_lossy(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// Runs `cmd` with stdout+stderr into `out_file`, killing it after `timeout`.
pub(crate) fn run_bounded(
    cmd: &mut Command,
    out_file: &Path,
    timeout: Duration,
) -> io::Result<(ExitStatus, String)> {
    let out = fs::File::create(out_file)?;
    let err = out.try_clone()?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run {cmd:?} ({e}): {INSTALL_HINT}"),
            )
        })?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, read_lossy(out_file)));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{cmd:?} timed out after {timeout:?}: {}",
                    read_lossy(out_file)
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `GET path` on 127.0.0.1:port (HTTP/1.0, 1 s bound); true if the response
/// is a 200 whose text contains `needle`.
pub(crate) fn http_get_contains(port: u16, path: &str, needle: &str) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
    let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.take(64 * 1024).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.starts_with("HTTP/1.")
        && text.lines().next().is_some_and(|l| l.contains(" 200"))
        && text.contains(needle)
}
