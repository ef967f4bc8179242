use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, CommandFactory as _};

use super::*;
use crate::cli::Cli;

fn serve_cmd() -> Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd.find_subcommand("serve").cloned().expect("serve")
}

fn file_with(text: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("wk-config-{}-{n}.toml", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

fn argv(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

fn expand_with(text: &str, extra: &[&str]) -> anyhow::Result<Expanded> {
    let f = file_with(text);
    let mut words = vec!["wirekit", "-v", "serve", "--config", f.to_str().unwrap()];
    words.extend_from_slice(extra);
    expand(argv(&words), &serve_cmd())
}

#[test]
fn file_keys_become_options_and_the_command_line_wins() {
    let e = expand_with(
        "listen = [\"echo=127.0.0.1:1\", \"time\"]\nmax_connections = 7\nidle-timeout = 1.5\n",
        &["--idle-timeout", "9"],
    )
    .unwrap();
    let words: Vec<String> = e.argv.iter().map(|w| w.to_string_lossy().into()).collect();
    let want = [
        "--idle-timeout",
        "9",
        "--listen=echo=127.0.0.1:1",
        "--listen=time",
        "--max-connections=7",
    ];
    for w in want {
        assert!(words.contains(&w.to_string()), "{w} missing from {words:?}");
    }
    assert!(
        !words.contains(&"--idle-timeout=1.5".to_string()),
        "{words:?}"
    );
    assert_eq!(
        e.from_file.iter().map(String::as_str).collect::<Vec<_>>(),
        ["listen", "max-connections"]
    );
    // The file's words come before the user's, right after `serve`.
    assert_eq!(words[..3], ["wirekit", "-v", "serve"]);
}

#[test]
fn unknown_keys_and_wrong_shapes_are_errors_naming_the_key() {
    let cases = [
        ("max-conections = 3", "unknown key `max-conections`"),
        ("config = \"x\"", "unknown key `config`"),
        ("[files]\nroot = \"x\"", "unknown key `files`"),
        ("max-connections = [1, 2]", "not a list"),
        ("print-config = true", "unknown key `print-config`"),
    ];
    for (text, want) in cases {
        let e = expand_with(text, &[]).unwrap_err();
        assert!(format!("{e:#}").contains(want), "{text}: {e:#}");
    }
    let e = expand_with("max-connections = \n", &[]).unwrap_err();
    assert!(format!("{e:#}").contains("config file"), "{e:#}");
}

#[test]
fn every_serve_option_has_a_config_key() {
    let serve = serve_cmd();
    let mut n = 0;
    for arg in serve.get_arguments() {
        let Some(key) = arg.get_long() else { continue };
        if NOT_KEYS.contains(&key) || arg.is_hide_set() || arg.is_global_set() {
            continue;
        }
        let value = match arg.get_action() {
            ArgAction::SetTrue => "true",
            ArgAction::Append => "[\"x\"]",
            _ => "\"x\"",
        };
        let r = expand_with(&format!("{key} = {value}"), &[]);
        assert!(r.is_ok(), "{key}: {:#}", r.unwrap_err());
        n += 1;
    }
    assert!(n >= 10, "only {n} options found");
}

#[test]
fn print_config_output_reads_back_as_the_same_configuration() {
    let serve = serve_cmd();
    let first = expand_with(
        "listen = [\"echo=127.0.0.1:0\"]\nmax-connections = 12\nroot = \"/tmp/wk root\"\n",
        &["--idle-timeout", "4"],
    )
    .unwrap();
    let m1 = Cli::command().get_matches_from(&first.argv);
    let text1 = effective(&serve, m1.subcommand().unwrap().1, &first);
    assert!(text1.contains("max-connections = 12  # from"), "{text1}");
    assert!(
        text1.contains("idle-timeout = 4  # command line"),
        "{text1}"
    );
    let again = expand_with(&text1, &[]).unwrap();
    let m2 = Cli::command().get_matches_from(&again.argv);
    let text2 = effective(&serve, m2.subcommand().unwrap().1, &again);
    let strip = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| l.split("  #").next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(strip(&text1), strip(&text2));
}

#[test]
fn other_subcommands_and_no_config_pass_through_unchanged() {
    let words = argv(&["wirekit", "echo", "127.0.0.1:1", "--config", "x"]);
    let e = expand(words.clone(), &serve_cmd()).unwrap();
    assert_eq!(e.argv, words);
    let words = argv(&["wirekit", "serve", "--listen", "echo"]);
    assert_eq!(expand(words.clone(), &serve_cmd()).unwrap().argv, words);
}
