//! `load-peers`: starts a throwaway Prosody and a throwaway ejabberd on
//! loopback (the `interop/` launchers) with `--users N` accounts
//! `{prefix}0 .. {prefix}N-1`, prints their ports and PIDs as shell
//! assignments followed by `READY`, and keeps them running until stdin
//! reaches end-of-file (or `--max-secs` pass). Then both are stopped and
//! their directories removed. Used by `benches/scripts/load.sh`.
//!
//! Prosody accounts are written straight into its `internal` store (one
//! `prosodyctl register` per user would take minutes for 1000 users);
//! ejabberd's come from one `import_piefxis`.

#[path = "../../../interop/ejabberd.rs"]
mod ejabberd;
#[path = "../../../interop/prosody.rs"]
mod prosody;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "load-peers", about)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    users: usize,
    #[arg(long, default_value = "load")]
    users_prefix: String,
    #[arg(long, default_value = "loadpw")]
    password: String,
    /// Stop after this long even if stdin stays open.
    #[arg(long, default_value_t = 3600)]
    max_secs: u64,
    /// Skip ejabberd.
    #[arg(long)]
    no_ejabberd: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "load-peers: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> std::io::Result<()> {
    let names: Vec<String> = (0..args.users)
        .map(|i| format!("{}{i}", args.users_prefix))
        .collect();
    let users: Vec<(&str, &str)> = names
        .iter()
        .map(|n| (n.as_str(), args.password.as_str()))
        .collect();

    let opts = prosody::ProsodyOptions {
        log_level: Some("error".to_owned()),
        // mod_bosh limits: the defaults, stated (requests = hold + 1 = 2).
        extra_global_config:
            "bosh_max_inactivity = 120\nbosh_max_wait = 120\nbosh_max_requests = 2\n".to_owned(),
        ..Default::default()
    };
    let p = prosody::Prosody::start_with(&[], &opts)?;
    let accounts = p.dir.join("data").join("localhost").join("accounts");
    std::fs::create_dir_all(&accounts)?;
    for (user, pw) in &users {
        std::fs::write(
            accounts.join(format!("{user}.dat")),
            format!("return {{\n\t[\"password\"] = \"{pw}\";\n}};\n"),
        )?;
    }
    let prosody_pid = std::fs::read_to_string(p.dir.join("prosody.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);

    let e = if args.no_ejabberd {
        None
    } else {
        let eopts = ejabberd::EjabberdOptions {
            log_level: Some("warning".to_owned()),
            bosh_max_inactivity_secs: Some(120),
            extra_config: String::new(),
        };
        let e = ejabberd::Ejabberd::start_with(&[], &eopts)?;
        e.register_many(&users)?;
        Some(e)
    };

    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "PROSODY_PID={prosody_pid}")?;
        writeln!(out, "PROSODY_C2S={}", p.c2s_addr())?;
        writeln!(out, "PROSODY_BOSH={}", p.bosh_url())?;
        writeln!(out, "PROSODY_DIR={}", p.dir.display())?;
        if let Some(e) = &e {
            writeln!(out, "EJABBERD_PID={}", e.beam_pid().unwrap_or(0))?;
            writeln!(out, "EJABBERD_C2S={}", e.c2s_addr())?;
            writeln!(out, "EJABBERD_BOSH={}", e.bosh_url())?;
            writeln!(out, "EJABBERD_DIR={}", e.dir.display())?;
        }
        writeln!(out, "READY")?;
        out.flush()?;
    }

    // Until stdin closes (or the time bound).
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(Duration::from_secs(args.max_secs));
    drop(e);
    drop(p);
    Ok(())
}
