//! Prints a `wirekit ls` listing: sorted by name, a `/` after directories,
//! sizes (human units with `-h`), and with `-l` the type and modification
//! time. Names come from the server's disk and are shown with control
//! characters visible and newlines escaped, so a hostile name can neither
//! drive the terminal nor fake a line.

use anyhow::Context as _;

use crate::client::visible::{visible, Newlines};

/// One listing entry.
struct Entry {
    name: String,
    dir: bool,
    size: u64,
    mtime: u64,
}

/// How to print.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// `-l`: type and modification time too.
    pub long: bool,
    /// `-h`: sizes in K, M, G, … (powers of 1024).
    pub human: bool,
}

/// Parses the server's JSON lines and prints them.
pub fn print(body: &[u8], style: Style) -> anyhow::Result<()> {
    let mut entries = Vec::new();
    for line in String::from_utf8_lossy(body).lines() {
        let v: serde_json::Value = serde_json::from_str(line).context("bad listing line")?;
        entries.push(Entry {
            name: v["name"].as_str().unwrap_or("?").to_string(),
            dir: v["dir"].as_bool() == Some(true),
            size: v["size"].as_u64().unwrap_or(0),
            mtime: v["mtime"].as_u64().unwrap_or(0),
        });
    }
    entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    for e in &entries {
        println!("{}", line(e, style));
    }
    Ok(())
}

fn line(e: &Entry, style: Style) -> String {
    let name = visible(e.name.as_bytes(), Newlines::Escape);
    let mark = if e.dir { "/" } else { "" };
    let size = if style.human {
        format!("{:>6}", human_size(e.size))
    } else {
        format!("{:>14}", e.size)
    };
    if !style.long {
        return format!("{size} {name}{mark}");
    }
    let kind = if e.dir { 'd' } else { '-' };
    format!("{kind} {size} {} {name}{mark}", when(e.mtime))
}

/// A modification time as `YYYY-MM-DD HH:MM` UTC (the server's clock).
fn when(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(
            || "????-??-?? ??:??".to_string(),
            |t| t.strftime("%Y-%m-%d %H:%M").to_string(),
        )
}

/// `1536` → `1.5K`; below 1024 the plain number; one decimal under 10.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1536), "1.5K");
        assert_eq!(human_size(176 << 20), "176M");
        assert_eq!(human_size(64 << 30), "64G");
        assert_eq!(human_size(u64::MAX), "16E");
    }

    #[test]
    fn long_line_marks_directories() {
        let e = Entry {
            name: "sub".into(),
            dir: true,
            size: 4096,
            mtime: 0,
        };
        let l = line(
            &e,
            Style {
                long: true,
                human: true,
            },
        );
        assert_eq!(l, "d   4.0K 1970-01-01 00:00 sub/");
    }
}
