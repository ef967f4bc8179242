//! Remote file names: what a client may ask for, checked before any path
//! is built. The host still opens files through a capability handle on the
//! root (so symlinks cannot leave it); this check refuses the obviously
//! hostile names early with a readable reason, and keeps names portable.

/// Longest name accepted, in bytes (the header's filename capacity).
pub const MAX_NAME_LEN: usize = crate::wire::NAME_CAP;
/// Longest single path component, in bytes (the common file system limit).
pub const MAX_COMPONENT_LEN: usize = 255;
/// Deepest directory nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Suffix of the server's and client's partial (temporary) files; names
/// ending in it are refused so nobody fetches or overwrites a partial.
pub const PARTIAL_SUFFIX: &str = ".wirekit-part";

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Nothing but separators or `.`.
    Empty,
    /// Longer than [`MAX_NAME_LEN`].
    TooLong,
    /// Starts with `/` (or `\`): names are relative to the root.
    Absolute,
    /// Has a `..` component.
    ParentDir,
    /// Has a NUL or another control character.
    Control,
    /// Has a `\` (a separator on Windows, ambiguous here).
    Backslash,
    /// A component is longer than [`MAX_COMPONENT_LEN`].
    ComponentTooLong,
    /// More than [`MAX_DEPTH`] components.
    TooDeep,
    /// Ends in [`PARTIAL_SUFFIX`].
    Partial,
}

impl core::fmt::Display for NameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl NameError {
    /// The text, as `Display` shows it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Empty => "empty file name",
            Self::TooLong => "file name too long",
            Self::Absolute => "absolute paths are not allowed",
            Self::ParentDir => "'..' is not allowed in file names",
            Self::Control => "control characters are not allowed in file names",
            Self::Backslash => "'\\' is not allowed in file names",
            Self::ComponentTooLong => "a file name component is longer than 255 bytes",
            Self::TooDeep => "too many directory levels",
            Self::Partial => "names ending in .wirekit-part are reserved",
        }
    }
}

/// The components of a name that passed [`check`]: `/`-separated, with
/// empty and `.` components dropped.
// A predicate, not the char '/': the same pieces, without the
// word-at-a-time searcher a char pattern links (-160 B of firmware).
#[allow(clippy::manual_pattern_char_comparison)]
pub fn components(name: &str) -> impl Iterator<Item = &str> {
    name.split(|c| c == '/')
        .filter(|c| !c.is_empty() && *c != ".")
}

/// The last component (the name a downloaded file gets locally).
pub fn base_name(name: &str) -> &str {
    components(name).last().unwrap_or(name)
}

/// Checks a name for use under the root. `allow_empty` accepts a name
/// that is only separators (the root itself, for directory listings).
///
/// ```
/// use wirekit_core::service::file::name::{check, NameError};
/// assert_eq!(check("docs/a.txt", false), Ok(()));
/// assert_eq!(check("../../etc/passwd", false), Err(NameError::ParentDir));
/// assert_eq!(check("/etc/passwd", false), Err(NameError::Absolute));
/// ```
pub fn check(name: &str, allow_empty: bool) -> Result<(), NameError> {
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Err(NameError::Absolute);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    if name.contains('\\') {
        return Err(NameError::Backslash);
    }
    let mut depth = 0;
    for c in components(name) {
        if c == ".." {
            return Err(NameError::ParentDir);
        }
        if c.len() > MAX_COMPONENT_LEN {
            return Err(NameError::ComponentTooLong);
        }
        depth += 1;
    }
    if depth > MAX_DEPTH {
        return Err(NameError::TooDeep);
    }
    if depth == 0 && !allow_empty {
        return Err(NameError::Empty);
    }
    if base_name(name).ends_with(PARTIAL_SUFFIX) {
        return Err(NameError::Partial);
    }
    Ok(())
}

/// Name of the partial file that stands for `base` (a last component that
/// passed [`check`]) while it is transferred: `.BASE.wirekit-part`, or, when
/// that would pass [`MAX_COMPONENT_LEN`] (a `base` of 242 bytes or more),
/// the first bytes of `base` and a SHA-256 of the whole of it, so every
/// legal name has a partial that the file system accepts and that is the
/// same on every try (resume finds it). A hash that collisions cannot be
/// built for keeps two long names from sharing one partial.
///
/// ```
/// use wirekit_core::service::file::name::{partial_name, MAX_COMPONENT_LEN};
/// assert_eq!(partial_name("a.txt").as_str(), ".a.txt.wirekit-part");
/// let long = "x".repeat(255);
/// let p = partial_name(&long);
/// assert!(p.len() <= MAX_COMPONENT_LEN && p.ends_with(".wirekit-part"));
/// assert_eq!(p, partial_name(&long));
/// ```
pub fn partial_name(base: &str) -> heapless::String<MAX_COMPONENT_LEN> {
    use core::fmt::Write as _;
    use sha2::Digest as _;
    let mut out = heapless::String::new();
    if 1 + base.len() + PARTIAL_SUFFIX.len() <= MAX_COMPONENT_LEN {
        // Fits by the length check above.
        let _ = write!(out, ".{base}{PARTIAL_SUFFIX}");
        return out;
    }
    // '.' + kept prefix + '~' + 32 hex digits + suffix.
    let room = MAX_COMPONENT_LEN - 2 - 2 * HASH_BYTES - PARTIAL_SUFFIX.len();
    let mut keep = room.min(base.len());
    while !base.is_char_boundary(keep) {
        keep -= 1;
    }
    let hash = sha2::Sha256::digest(base.as_bytes());
    let _ = write!(out, ".{}~", &base[..keep]);
    for b in &hash[..HASH_BYTES] {
        let _ = write!(out, "{b:02x}");
    }
    let _ = out.push_str(PARTIAL_SUFFIX);
    out
}

/// Bytes of SHA-256 kept in a shortened partial name (128 bits).
const HASH_BYTES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use proptest::prelude::*;

    #[test]
    fn hostile_names_are_refused() {
        let cases = [
            ("../../etc/passwd", NameError::ParentDir),
            ("a/../../b", NameError::ParentDir),
            ("..", NameError::ParentDir),
            ("/etc/passwd", NameError::Absolute),
            ("\\windows", NameError::Absolute),
            ("a\0b", NameError::Control),
            ("a\nb", NameError::Control),
            ("a\\..\\b", NameError::Backslash),
            ("", NameError::Empty),
            ("./", NameError::Empty),
            (".x.wirekit-part", NameError::Partial),
        ];
        for (name, err) in cases {
            assert_eq!(check(name, false), Err(err), "{name:?}");
        }
        let long = "a".repeat(256);
        assert_eq!(check(&long, false), Err(NameError::ComponentTooLong));
        let deep = "a/".repeat(33);
        assert_eq!(check(&deep, false), Err(NameError::TooDeep));
        assert_eq!(check(&"ab/".repeat(200), false), Err(NameError::TooLong));
    }

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "a.txt",
            "dir/sub/名字.bin",
            "./a",
            "a//b",
            "..a",
            "a..",
            "a b",
        ] {
            assert_eq!(check(name, false), Ok(()), "{name:?}");
        }
        assert_eq!(check("", true), Ok(()));
        assert_eq!(base_name("dir/sub/x.txt"), "x.txt");
        assert_eq!(base_name("x.txt/"), "x.txt");
    }

    #[test]
    fn every_legal_base_has_a_partial_that_fits() {
        for len in [1, 200, 241, 242, 243, 254, 255] {
            let base = "é".repeat(len / 2) + &"a".repeat(len % 2);
            assert_eq!(check(&base, false), Ok(()));
            let p = partial_name(&base);
            assert!(p.len() <= MAX_COMPONENT_LEN, "{len}: {}", p.len());
            assert!(p.starts_with('.') && p.ends_with(PARTIAL_SUFFIX));
        }
        // Short names keep the readable form the clients document.
        assert_eq!(partial_name("x").as_str(), ".x.wirekit-part");
    }

    proptest! {
        #[test]
        fn long_partials_differ_when_names_differ(a in "[a-c]{242,255}", b in "[a-c]{242,255}") {
            prop_assert!(partial_name(&a).len() <= MAX_COMPONENT_LEN);
            prop_assert_eq!(a == b, partial_name(&a) == partial_name(&b));
        }
    }

    proptest! {
        #[test]
        fn accepted_names_stay_inside(name in "[a-z./]{0,40}") {
            if check(&name, true).is_ok() {
                prop_assert!(!name.starts_with('/'));
                prop_assert!(components(&name).all(|c| c != ".." && c != "." && !c.is_empty()));
            }
        }
    }
}
