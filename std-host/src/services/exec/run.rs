//! Runs one command the way the seeds do (`sh -c`), but contained: no
//! stdin, a cleared environment, and under a supervisor ([`Launcher`])
//! that kills everything the command started at the timeout, at the
//! output cap, when the client goes away, and when the command ends (so
//! nothing it started in the background outlives it, not even through
//! `setsid` or a double fork).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{kill_process_group, Pid, Signal};
use tokio::io::AsyncReadExt as _;
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::Instant;
use wirekit_core::service::exec::{Ending, OutputCap};

use super::supervise;

/// The environment a command gets: nothing of the server's own.
const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
const SAFE_LANG: &str = "C.UTF-8";

/// Which output stream a chunk came from (the session's name for it).
pub use wirekit_core::session::exec::Stream;

/// Where a command's output goes as it is produced.
pub trait Sink {
    /// Takes the next chunk; an error (client gone) stops the command.
    fn chunk(
        &mut self,
        stream: Stream,
        data: &[u8],
    ) -> impl std::future::Future<Output = std::io::Result<()>>;
}

/// Why a run failed.
#[derive(Debug)]
pub enum RunError {
    /// The shell could not be started.
    Spawn(std::io::Error),
    /// The sink failed (the client went away); the command was killed.
    Sink(std::io::Error),
    /// The server is shutting down; the command was killed.
    Shutdown,
}

/// How a run went.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// How the command ended.
    pub ending: Ending,
    /// Output was cut at the cap.
    pub truncated: bool,
}

/// How a command is started.
#[derive(Debug, Clone, Default)]
pub enum Launcher {
    /// `sh -c` directly, in its own process group: what a double fork or
    /// `setsid` starts escapes the group kill. Only for tests of this
    /// library, whose binary is not `wirekit`.
    #[default]
    Direct,
    /// `PROGRAM exec-supervise -- CMD` (the `wirekit` binary itself, see
    /// [`super::supervise`]): nothing the command starts outlives it.
    Supervised(PathBuf),
}

/// Stops the command when dropped: whatever path leaves [`run`]
/// (including the sink failing or the task being cancelled), the command
/// and everything it started do not outlive it.
struct Stopper {
    /// Direct launch: the command's process group.
    group: Option<Pid>,
    /// Supervised launch: closing the supervisor's stdin tells it to kill
    /// everything and exit. (Killing the supervisor instead would orphan
    /// the command's processes.)
    control: Option<ChildStdin>,
}

impl Stopper {
    fn stop(&mut self) {
        self.control = None;
        if let Some(pid) = self.group {
            // ESRCH (group already gone) is the normal case after an exit.
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
}

impl Drop for Stopper {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(cmd: &[u8], launcher: &Launcher) -> std::io::Result<(Child, Stopper)> {
    let supervised = matches!(launcher, Launcher::Supervised(_));
    let mut c = match launcher {
        Launcher::Direct => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c");
            c
        }
        Launcher::Supervised(program) => {
            let mut c = Command::new(program);
            c.arg(supervise::SUBCOMMAND);
            if let Some(n) = crate::runtime::fdlimit::started_with() {
                c.arg(format!("--nofile={n}"));
            }
            c.arg("--");
            c
        }
    };
    let mut child = c
        .arg(OsStr::from_bytes(cmd))
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("LANG", SAFE_LANG)
        .stdin(if supervised {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // A supervisor must get the chance to clean up (its stdin closes
        // when the Stopper drops); a direct shell is killed with its group.
        .kill_on_drop(!supervised)
        .spawn()?;
    let stopper = Stopper {
        group: (!supervised)
            .then(|| child.id().and_then(|id| Pid::from_raw(id as i32)))
            .flatten(),
        control: child.stdin.take(),
    };
    Ok((child, stopper))
}

/// Runs `cmd` with `sh -c`, feeding its output to `sink` (at most
/// `max_output` bytes in all), then the marker saying why it was cut
/// short, if it was.
///
/// The deadline races every wait, including a sink blocked on a client
/// that does not read: at the deadline the command is stopped and `slot`
/// (its place under `--exec-max-concurrent`) is released as soon as it is
/// reaped, before the marker is written to that slow client.
pub async fn run<T>(
    cmd: &[u8],
    timeout: Duration,
    max_output: u64,
    launcher: &Launcher,
    slot: T,
    sink: &mut impl Sink,
) -> Result<Outcome, RunError> {
    let (mut child, mut guard) = spawn(cmd, launcher).map_err(RunError::Spawn)?;
    let deadline = Instant::now() + timeout;
    let timed_out = Ending::TimedOut {
        secs: timeout.as_secs(),
    };
    let mut cap = OutputCap::new(max_output);
    let early = match tokio::time::timeout_at(deadline, pump(&mut child, &mut cap, sink)).await {
        Ok(r) => r.map_err(RunError::Sink)?,
        Err(_) => Some(timed_out),
    };
    let ending = match early {
        Some(e) => {
            guard.stop();
            let _ = child.wait().await;
            e
        }
        None => match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(Ok(status)) => match (status.code(), status.signal()) {
                (Some(code), _) => Ending::Exited(code),
                (None, Some(sig)) => Ending::Signaled(sig),
                (None, None) => Ending::Exited(-1),
            },
            Ok(Err(e)) => return Err(RunError::Spawn(e)),
            Err(_) => {
                guard.stop();
                let _ = child.wait().await;
                timed_out
            }
        },
    };
    drop(guard);
    drop(slot);
    if let Some(marker) = ending.marker() {
        sink.chunk(Stream::Stderr, marker.as_bytes())
            .await
            .map_err(RunError::Sink)?;
    }
    Ok(Outcome {
        ending,
        truncated: cap.truncated(),
    })
}

/// Moves output from the pipes to the sink until both close; returns the
/// ending if wirekit must stop the command first (the cap; the caller
/// races the whole of it against the deadline).
async fn pump(
    child: &mut Child,
    cap: &mut OutputCap,
    sink: &mut impl Sink,
) -> std::io::Result<Option<Ending>> {
    let (Some(mut out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(std::io::Error::other("child pipes missing"));
    };
    let (mut out_open, mut err_open) = (true, true);
    let mut obuf = vec![0u8; 32 * 1024];
    let mut ebuf = vec![0u8; 32 * 1024];
    while out_open || err_open {
        let (stream, n) = tokio::select! {
            r = out.read(&mut obuf), if out_open => (Stream::Stdout, r.unwrap_or(0)),
            r = err.read(&mut ebuf), if err_open => (Stream::Stderr, r.unwrap_or(0)),
        };
        if n == 0 {
            match stream {
                Stream::Stdout => out_open = false,
                Stream::Stderr => err_open = false,
            }
            continue;
        }
        let keep = cap.admit(n);
        let buf = if stream == Stream::Stdout {
            &obuf
        } else {
            &ebuf
        };
        if keep > 0 {
            sink.chunk(stream, &buf[..keep]).await?;
        }
        if cap.truncated() {
            return Ok(Some(Ending::Capped { cap: cap.cap() }));
        }
    }
    Ok(None)
}
