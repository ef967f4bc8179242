//! `wirekit serve --config FILE`: a TOML file whose keys are the long
//! options of `wirekit serve`, so every flag has a config key by
//! construction and a new flag needs no second declaration.
//!
//! ```toml
//! listen = ["echo=127.0.0.1:8080", "files=0.0.0.0:8484"]
//! max-connections = 2000
//! idle-timeout = 60
//! root = "/srv/wirekit"
//! ```
//!
//! The file is turned into option words placed before the command line's
//! own, and options given on the command line drop the file's key of the
//! same name: flags override the file. A key that names no option is an
//! error naming the key and the file; so is a value of the wrong shape
//! (a table, a list for a single-valued option, a non-boolean for a
//! switch). `--print-config` prints the effective configuration in the
//! same format, each key marked with where its value came from.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use clap::{Arg, ArgAction, ArgMatches, Command};

/// Largest config file read.
const MAX_CONFIG: u64 = 1 << 20;

/// Options that are about the config itself, not keys in it.
const NOT_KEYS: &[&str] = &["config", "print-config", "help", "version"];

/// The command line with a config file's options put in.
#[derive(Debug, Default)]
pub struct Expanded {
    /// The words to parse.
    pub argv: Vec<OsString>,
    /// The config file, if one was named.
    pub file: Option<PathBuf>,
    /// The keys whose values came from the file.
    pub from_file: BTreeSet<String>,
}

/// Expands `--config FILE` on `wirekit serve`; `serve` is that subcommand's
/// definition (for the option names and kinds). Other command lines are
/// returned unchanged.
pub fn expand(argv: Vec<OsString>, serve: &Command) -> anyhow::Result<Expanded> {
    let Some(sub) = subcommand_index(&argv).filter(|&i| argv[i] == "serve") else {
        return Ok(Expanded {
            argv,
            ..Expanded::default()
        });
    };
    let words: Vec<&OsStr> = argv[sub + 1..]
        .iter()
        .map(OsString::as_os_str)
        .take_while(|w| *w != "--")
        .collect();
    let Some(file) = config_path(&words)? else {
        return Ok(Expanded {
            argv,
            ..Expanded::default()
        });
    };
    let given = long_options(&words);
    let table = read_table(&file)?;
    let mut extra = Vec::new();
    let mut from_file = BTreeSet::new();
    for (raw_key, value) in &table {
        let key = raw_key.replace('_', "-");
        let arg = option_arg(serve, &key).ok_or_else(|| {
            anyhow!(
                "{}: unknown key `{raw_key}` (not an option of `wirekit serve`)",
                file.display()
            )
        })?;
        if given.contains(&key) {
            continue;
        }
        to_words(arg, &key, value, &mut extra)
            .with_context(|| format!("{}: key `{raw_key}`", file.display()))?;
        from_file.insert(key);
    }
    let mut out = argv[..=sub].to_vec();
    out.extend(extra);
    out.extend_from_slice(&argv[sub + 1..]);
    Ok(Expanded {
        argv: out,
        file: Some(file),
        from_file,
    })
}

/// Index of the subcommand word: the first word after the program name
/// that is not an option (the only global option, `-v`, takes no value).
fn subcommand_index(argv: &[OsString]) -> Option<usize> {
    argv.iter()
        .enumerate()
        .skip(1)
        .find(|(_, w)| !w.to_string_lossy().starts_with('-'))
        .map(|(i, _)| i)
}

/// The value of `--config FILE` / `--config=FILE`, if given.
fn config_path(words: &[&OsStr]) -> anyhow::Result<Option<PathBuf>> {
    for (i, w) in words.iter().enumerate() {
        let w = w.to_string_lossy();
        if let Some(v) = w.strip_prefix("--config=") {
            return Ok(Some(PathBuf::from(v)));
        }
        if w == "--config" {
            let v = words
                .get(i + 1)
                .ok_or_else(|| anyhow!("--config needs a FILE"))?;
            return Ok(Some(PathBuf::from(v)));
        }
    }
    Ok(None)
}

/// The long option names given on the command line.
fn long_options(words: &[&OsStr]) -> BTreeSet<String> {
    words
        .iter()
        .filter_map(|w| {
            let w = w.to_string_lossy();
            let name = w.strip_prefix("--")?;
            Some(name.split_once('=').map_or(name, |(n, _)| n).to_string())
        })
        .collect()
}

fn read_table(file: &Path) -> anyhow::Result<toml::Table> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("config file {}", file.display()))?;
    if meta.len() > MAX_CONFIG {
        bail!("config file {} is larger than 1 MiB", file.display());
    }
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading config file {}", file.display()))?;
    text.parse::<toml::Table>()
        .map_err(|e| anyhow!("config file {}: {e}", file.display()))
}

/// The option `--key` of `serve`, unless it is about the config itself.
fn option_arg<'a>(serve: &'a Command, key: &str) -> Option<&'a Arg> {
    if NOT_KEYS.contains(&key) {
        return None;
    }
    serve
        .get_arguments()
        .find(|a| a.get_long() == Some(key) && !a.is_hide_set() && !a.is_global_set())
}

/// The option words for `key = value`.
fn to_words(
    arg: &Arg,
    key: &str,
    value: &toml::Value,
    out: &mut Vec<OsString>,
) -> anyhow::Result<()> {
    match (arg.get_action(), value) {
        (ArgAction::SetTrue, toml::Value::Boolean(b)) => {
            if *b {
                out.push(format!("--{key}").into());
            }
        }
        (ArgAction::SetTrue, _) => bail!("must be true or false"),
        (ArgAction::Count, toml::Value::Integer(n)) if (0..=16).contains(n) => {
            out.extend((0..*n).map(|_| OsString::from(format!("--{key}"))));
        }
        (ArgAction::Append, toml::Value::Array(items)) => {
            for item in items {
                out.push(format!("--{key}={}", scalar(item)?).into());
            }
        }
        (_, toml::Value::Array(_)) => bail!("takes one value, not a list"),
        (_, v) => out.push(format!("--{key}={}", scalar(v)?).into()),
    }
    Ok(())
}

fn scalar(v: &toml::Value) -> anyhow::Result<String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(_) | toml::Value::Array(_) | toml::Value::Table(_) => {
            bail!("must be a string, number or boolean")
        }
    })
}

/// The effective configuration of a parsed `wirekit serve` as TOML that
/// `--config` reads back, grouped by help heading, each value marked with
/// its source (default, the file, the command line).
pub fn effective(serve: &Command, m: &ArgMatches, exp: &Expanded) -> String {
    let mut out = String::from("# wirekit serve: effective configuration\n");
    let mut heading = None;
    for arg in serve.get_arguments() {
        let Some(key) = arg.get_long().filter(|k| !NOT_KEYS.contains(k)) else {
            continue;
        };
        // -v is global (every subcommand has it), not a serve option.
        if arg.is_hide_set() || arg.is_global_set() {
            continue;
        }
        if arg.get_help_heading() != heading {
            heading = arg.get_help_heading();
            let _ = write!(out, "\n# {}\n", heading.unwrap_or("Options"));
        }
        let source = if exp.from_file.contains(key) {
            exp.file
                .as_deref()
                .map(|f| format!("  # from {}", f.display()))
        } else {
            match m.value_source(arg.get_id().as_str()) {
                Some(clap::parser::ValueSource::CommandLine) => Some("  # command line".into()),
                _ => None,
            }
        };
        match value_of(arg, m) {
            Some(v) => {
                let _ = writeln!(out, "{key} = {v}{}", source.unwrap_or_default());
            }
            None => {
                let _ = writeln!(out, "# {key} = (not set)");
            }
        }
    }
    out
}

/// One option's value as TOML, or `None` when it has none.
fn value_of(arg: &Arg, m: &ArgMatches) -> Option<toml::Value> {
    let id = arg.get_id().as_str();
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return Some(toml::Value::Boolean(m.get_flag(id)));
    }
    let raws: Vec<toml::Value> = m
        .get_raw(id)?
        .map(|r| typed(&r.to_string_lossy()))
        .collect();
    match arg.get_action() {
        ArgAction::Append => Some(toml::Value::Array(raws)),
        _ => raws.into_iter().next(),
    }
}

/// A number stays a number, anything else is a string.
fn typed(s: &str) -> toml::Value {
    if let Ok(i) = s.parse::<i64>() {
        toml::Value::Integer(i)
    } else if let Some(f) = s.parse::<f64>().ok().filter(|f| f.is_finite()) {
        toml::Value::Float(f)
    } else {
        toml::Value::String(s.to_string())
    }
}

#[cfg(test)]
mod tests;
