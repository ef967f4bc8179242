//! `wirekit man` and `wirekit completions` (issue 17 item 7): pages for
//! every subcommand that carry its real options, and completion scripts a
//! real bash loads and completes with.

wirekit_testkit::kit!();

use std::process::Command;
use std::time::Duration;

use kit::{run_with_timeout, temp_dir, wirekit, wirekit_bin};

const T: Duration = Duration::from_secs(30);

fn text(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn man_writes_one_page_per_subcommand_with_its_options() {
    let dir = temp_dir("man-pages");
    let d = dir.to_str().unwrap();
    text(&run_with_timeout(wirekit(&["man", "--out-dir", d]), b"", T));
    for (page, option) in [
        ("wirekit.1", "serve"),
        ("wirekit-serve.1", "max\\-connections"),
        ("wirekit-get.1", "resume"),
        ("wirekit-put.1", "force"),
        ("wirekit-chat.1", "name"),
        ("wirekit-completions.1", "SHELL"),
    ] {
        let roff =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(roff.contains(".TH "), "{page} is not a man page");
        assert!(roff.contains(option), "{page} lacks {option}");
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("-help")), "{names:?}");
    // One page printed on its own, as `man -l -` reads it.
    let one = text(&run_with_timeout(wirekit(&["man", "ls"]), b"", T));
    assert!(one.contains(".TH wirekit-ls 1"), "{one}");
    let bad = run_with_timeout(wirekit(&["man", "nosuch"]), b"", T);
    assert!(!bad.status.success());
}

#[test]
fn bash_completes_subcommands_and_options_from_the_script() {
    let script = format!(
        "source <('{bin}' completions bash) && complete -p wirekit >/dev/null && \
         COMP_WORDS=(wirekit se) COMP_CWORD=1 && _wirekit wirekit se wirekit && \
         echo \"sub: ${{COMPREPLY[*]}}\" && \
         COMP_WORDS=(wirekit get --res) COMP_CWORD=2 && _wirekit wirekit --res get && \
         echo \"opt: ${{COMPREPLY[*]}}\"",
        bin = wirekit_bin().display()
    );
    let out = run_with_timeout(
        {
            let mut c = Command::new("bash");
            c.args(["-c", &script]);
            c
        },
        b"",
        T,
    );
    let got = text(&out);
    assert!(got.contains("sub: serve"), "{got}");
    assert!(got.contains("opt: --resume"), "{got}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let s = text(&run_with_timeout(wirekit(&["completions", shell]), b"", T));
        assert!(s.contains("wirekit") && s.len() > 1000, "{shell}: {s}");
    }
}
