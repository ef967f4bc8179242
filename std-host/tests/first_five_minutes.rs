//! Replays README's "First five minutes" walk-through command by command
//! against a server this test starts, so the first commands a new user
//! copies keep working (issue 17, "Done when").
//!
//! The README's `wirekit serve` runs the default set on the seeds' fixed
//! ports, which a shared test machine may have taken: the test starts the
//! same services on free ports instead and rewrites each command's
//! default address to the port it learned.

wirekit_testkit::kit!();

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kit::{run_with_timeout, temp_dir, wirekit_bin, workspace_root, Server};

const T: Duration = Duration::from_secs(60);

/// The default services of `wirekit serve`: name, protocol, default
/// address (as `wirekit serve --help` lists them).
const DEFAULTS: &[(&str, &str, &str)] = &[
    ("echo", "tcp", "127.0.0.1:8080"),
    ("udp-echo", "udp", "127.0.0.1:8181"),
    ("time", "udp", "127.0.0.1:9000"),
    ("files", "tcp", "127.0.0.1:8484"),
    ("chat", "tcp", "127.0.0.1:9999"),
];

/// The shell commands of the README section `## First five minutes`: the
/// lines of its ```sh blocks, without blanks and comments.
fn walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let start = readme
        .find("\n## First five minutes\n")
        .expect("README has a `## First five minutes` section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in section.lines() {
        match line.trim_end() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && !l.trim().is_empty() && !l.trim_start().starts_with('#') => {
                commands.push(l.to_owned())
            }
            _ => {}
        }
    }
    commands
}

/// `command` with every default address replaced by the server's.
fn rewrite(command: &str, server: &Server) -> String {
    let mut out = command.to_owned();
    for (service, proto, default) in DEFAULTS {
        out = out.replace(default, &server.addr(service, proto).to_string());
    }
    out
}

fn sh(command: &str, cwd: &Path) -> std::process::Output {
    let bin_dir = wirekit_bin().parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", command]).current_dir(cwd).env("PATH", path);
    run_with_timeout(cmd, b"", T)
}

#[test]
fn readme_first_five_minutes_replays() {
    let commands = walkthrough();
    assert!(
        commands.len() >= 8,
        "the walk-through lost its commands: {commands:?}"
    );
    assert_eq!(
        commands[0], "wirekit serve",
        "the walk-through starts a server"
    );
    let (server_dir, work) = (temp_dir("ffm-server"), temp_dir("ffm-client"));
    let mut args = vec!["serve".to_owned()];
    for (service, _, _) in DEFAULTS {
        args.extend(["--listen".to_owned(), format!("{service}=127.0.0.1:0")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_in(&args, DEFAULTS.len(), Some(&server_dir));
    for command in &commands[1..] {
        assert!(
            !command.contains("wirekit serve"),
            "one server only: {command}"
        );
        let run = rewrite(command, &server);
        let out = sh(&run, &work);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "README command failed: {command}\n(ran {run})\nstdout: {stdout}\nstderr: {stderr}"
        );
        // What the walk-through promises each step shows.
        if command.starts_with("wirekit echo ") {
            assert_eq!(
                stdout.trim_end(),
                stdout.trim_end().to_uppercase(),
                "{command}"
            );
            assert!(stdout.contains("HELLO"), "{command}: {stdout}");
        }
        if command.starts_with("wirekit time ") {
            assert!(stdout.starts_with("20"), "{command}: {stdout}");
        }
        if command.starts_with("wirekit ls ") {
            assert!(stdout.contains("big.bin"), "{command}: {stdout}");
        }
    }
    // The upload landed where the text says it does.
    assert!(server_dir.join("wirekit-files/big.bin").is_file());
}
