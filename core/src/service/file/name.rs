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
        f.write_str(match self {
            Self::Empty => "empty file name",
            Self::TooLong => "file name too long",
            Self::Absolute => "absolute paths are not allowed",
            Self::ParentDir => "'..' is not allowed in file names",
            Self::Control => "control characters are not allowed in file names",
            Self::Backslash => "'\\' is not allowed in file names",
            Self::ComponentTooLong => "a file name component is longer than 255 bytes",
            Self::TooDeep => "too many directory levels",
            Self::Partial => "names ending in .wirekit-part are reserved",
        })
    }
}

/// The components of a name that passed [`check`]: `/`-separated, with
/// empty and `.` components dropped.
pub fn components(name: &str) -> impl Iterator<Item = &str> {
    name.split('/').filter(|c| !c.is_empty() && *c != ".")
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
