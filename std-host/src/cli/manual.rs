//! `wirekit man` and `wirekit completions`: the manual pages (one per
//! subcommand, roff, via clap_mangen) and shell completion scripts (via
//! clap_complete), both generated from the same clap definition as
//! `--help`, so they cannot drift from the real options.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::CommandFactory as _;
use clap_complete::Shell;

use super::Cli;

/// Options of `wirekit man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The subcommand whose page to print (e.g. `serve`); none = the
    /// `wirekit(1)` overview.
    pub subcommand: Option<String>,
    /// Write every page (wirekit.1, wirekit-serve.1, …) into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    pub out_dir: Option<PathBuf>,
}

/// Options of `wirekit completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

/// Runs `wirekit man`.
pub fn man(args: &ManArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        return write_pages(&cmd, "wirekit", dir);
    }
    let page = match &args.subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            // Named like the file generate_to writes, for the page header.
            Some(sub) => sub.clone().display_name(format!("wirekit-{name}")),
            None => bail!("no subcommand `{name}` (see `wirekit --help`)"),
        },
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    std::io::stdout().lock().write_all(&out)?;
    Ok(())
}

/// Writes `NAME.1` for `cmd` and `NAME-SUB.1` for each subcommand, down
/// the tree; clap's generated `help` subcommands get no page.
fn write_pages(cmd: &clap::Command, name: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let page = cmd.clone().display_name(name.to_string());
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}

/// Runs `wirekit completions`.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut cmd,
        "wirekit",
        &mut std::io::stdout().lock(),
    );
    Ok(())
}
