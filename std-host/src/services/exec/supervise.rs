//! The command supervisor: `wirekit exec-supervise -- CMD` (hidden), which
//! the exec server runs for every command instead of `sh -c CMD` directly.
//!
//! Killing the command's process group is not enough: `setsid sleep 321 &`
//! or a double fork leaves the group (and the session), and would outlive
//! the command. The supervisor is a child subreaper (`PR_SET_CHILD_SUBREAPER`),
//! so every orphan the command leaves behind re-parents to it instead of
//! to init; when the shell ends, or when the server says stop, it kills
//! the shell's group and then every process that is still its child,
//! repeatedly, until it has no children left. Nothing the command started
//! can outlive it, whatever it did with sessions and groups.
//!
//! Protocol with the server: stdout and stderr are the command's (the
//! shell inherits them); stdin is a pipe the server never writes to and
//! closes (by dropping it, or by dying) to stop the command. The exit code
//! is the shell's, or 128 + signal if the shell was killed, as a shell
//! reports it.

use std::ffi::OsString;
use std::io::Read as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use rustix::process::{
    getpid, kill_process, kill_process_group, set_child_subreaper, wait, Pid, Signal, WaitOptions,
};

/// The hidden subcommand's arguments.
#[derive(Debug, clap::Args)]
pub struct SuperviseArgs {
    /// The soft open-file limit to run the command with (the server's own
    /// was raised for its connections; the command gets the original).
    #[arg(long, value_name = "N")]
    pub nofile: Option<u64>,

    /// The command, given to `sh -c` as it is (any bytes).
    #[arg(value_parser = clap::value_parser!(OsString))]
    pub command: OsString,
}

/// The subcommand name the server runs (hidden from `--help`).
pub const SUBCOMMAND: &str = "exec-supervise";

/// Runs the command under supervision; returns its exit code.
pub fn run(args: &SuperviseArgs) -> ExitCode {
    if let Err(e) = set_child_subreaper(Some(getpid())) {
        // Without it orphans would escape: refuse rather than run unguarded.
        eprintln!("wirekit: cannot become a child subreaper: {e}");
        return ExitCode::from(126);
    }
    if let Some(n) = args.nofile {
        if let Err(e) = crate::runtime::fdlimit::restore_soft_limit(n) {
            eprintln!("wirekit: cannot set the open-file limit to {n}: {e}");
            return ExitCode::from(126);
        }
    }
    let shell = Command::new("/bin/sh")
        .arg("-c")
        .arg(&args.command)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn();
    let mut shell = match shell {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wirekit: cannot run /bin/sh: {e}");
            return ExitCode::from(127);
        }
    };
    let group = Pid::from_raw(shell.id() as i32);
    // The server closes our stdin to stop the command (timeout, output
    // cap, client gone, shutdown, or the server itself died).
    std::thread::spawn(move || {
        let mut sink = [0u8; 64];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        if let Some(g) = group {
            let _ = kill_process_group(g, Signal::KILL);
        }
    });
    let status = shell.wait();
    if let Some(g) = group {
        // ESRCH (the group is already empty) is the normal case.
        let _ = kill_process_group(g, Signal::KILL);
    }
    kill_all_children();
    match status {
        Ok(s) => {
            let code = s.code().or_else(|| s.signal().map(|sig| 128 + sig));
            ExitCode::from(code.map_or(255, |c| u8::try_from(c & 0xff).unwrap_or(255)))
        }
        Err(e) => {
            eprintln!("wirekit: waiting for the command: {e}");
            ExitCode::from(255)
        }
    }
}

/// Kills and reaps every child until none is left. A killed child's own
/// children re-parent to us before it can be reaped, so each round finds
/// the next generation. When the command left nothing behind (the usual
/// case) the first `waitpid` says so and `/proc` is never read.
fn kill_all_children() {
    let me = getpid();
    loop {
        match wait(WaitOptions::NOHANG) {
            // Reaped one: look again (its children are ours now).
            Ok(Some(_)) => continue,
            // ECHILD: nobody left.
            Err(_) => return,
            // Children still alive: kill them, give SIGKILL a moment.
            Ok(None) => {}
        }
        for pid in children_of(me) {
            let _ = kill_process(pid, Signal::KILL);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Processes whose parent is `parent`, from `/proc/PID/stat`.
fn children_of(parent: Pid) -> Vec<Pid> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            (parent_in_stat(&stat)? == parent.as_raw_nonzero().get())
                .then(|| Pid::from_raw(pid))
                .flatten()
        })
        .collect()
}

/// The parent pid in a `/proc/PID/stat` line: the second field after the
/// command name, which is in parentheses and may itself hold `)` or spaces.
fn parent_in_stat(stat: &str) -> Option<i32> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_pid_from_stat() {
        assert_eq!(parent_in_stat("42 (sleep) S 7 42 42 0"), Some(7));
        assert_eq!(parent_in_stat("42 (a) b) c) R 9 1"), Some(9));
        assert_eq!(parent_in_stat("42 (x"), None);
    }
}
