//! Path safety: a torrent's file paths can never leave the download directory.
//!
//! The rule, applied to every file of every torrent parsed (and to paths
//! given to [`safe_join`]):
//!
//! - a path is a list of components (BEP 3 `path` list, or the `name` of a
//!   single-file torrent); each component is checked on its own;
//! - **rejected** with [`Error::PathTraversal`]: `..`, a component holding `/`
//!   or `\` (it would smuggle in extra levels, or an absolute path), a
//!   component starting with a Windows drive prefix such as `C:`;
//! - **rejected** with [`Error::BadPathComponent`]: an empty component (an
//!   absolute path or `a//b` when joined), `.`, a component holding NUL;
//! - **rejected** with [`Error::PathCollision`]: two non-padding files with
//!   the same path, or a file whose path is a directory of another file.
//!   The comparison is byte-for-byte, i.e. case-sensitive: `A.txt` and
//!   `a.txt` are two files (on a case-insensitive file system they would
//!   meet; a client on such a system must check again when it opens them);
//! - component bytes that are not UTF-8 (and have no valid `path.utf-8`) are
//!   converted lossily, U+FFFD replacing bad sequences; a collision this
//!   creates is caught by the rule above.
//!
//! Nothing is sanitized silently: a torrent that breaks the rule fails to
//! load, so what the user sees is what is written.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::Error;

/// Checks one path component against the rule of this module.
///
/// `whole` renders the full path for the error message.
pub(crate) fn check_component(component: &str, whole: impl Fn() -> String) -> Result<(), Error> {
    if component.is_empty() || component == "." || component.contains('\0') {
        return Err(Error::BadPathComponent(whole()));
    }
    if component == ".." || component.contains(['/', '\\']) || has_drive_prefix(component) {
        return Err(Error::PathTraversal(whole()));
    }
    Ok(())
}

/// `C:` and the like: on Windows, joining such a component replaces the base.
fn has_drive_prefix(component: &str) -> bool {
    matches!(component.as_bytes(), [d, b':', ..] if d.is_ascii_alphabetic())
}

/// Builds a relative path from checked components.
pub(crate) fn build_path<S: AsRef<str>>(components: &[S]) -> Result<PathBuf, Error> {
    let whole = || {
        components
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut path = PathBuf::new();
    for c in components {
        check_component(c.as_ref(), whole)?;
        path.push(c.as_ref());
    }
    Ok(path)
}

/// Joins a torrent-relative path to a base directory, refusing anything that
/// could leave `base` (see the module's rule).
///
/// Paths from [`crate::FileEntry::path`] always pass; this is the check to
/// use for any relative path that comes from elsewhere.
///
/// ```
/// use std::path::Path;
/// use ferro_metainfo::safe_join;
/// let p = safe_join(Path::new("/downloads"), Path::new("album/track.flac"))?;
/// assert_eq!(p, Path::new("/downloads/album/track.flac"));
/// assert!(safe_join(Path::new("/downloads"), Path::new("../etc/passwd")).is_err());
/// assert!(safe_join(Path::new("/downloads"), Path::new("/etc/passwd")).is_err());
/// # Ok::<(), ferro_metainfo::Error>(())
/// ```
pub fn safe_join(base: &Path, rel: &Path) -> Result<PathBuf, Error> {
    let whole = || rel.to_string_lossy().into_owned();
    let text = rel
        .to_str()
        .ok_or_else(|| Error::BadPathComponent(whole()))?;
    if rel.has_root() || rel.is_absolute() || text.starts_with(['/', '\\']) {
        return Err(Error::PathTraversal(whole()));
    }
    // Split by hand: `Path::components` would quietly drop `a/./b`'s `.`.
    let mut out = base.to_path_buf();
    for component in text.split('/') {
        check_component(component, whole)?;
        out.push(component);
    }
    Ok(out)
}

/// Rejects two equal paths, and a path that is a directory of another.
///
/// Works on the paths' bytes: components never hold a separator (checked
/// before), so cutting at the last separator gives the parent directory.
/// (Hashing `Path`s walks their components and was most of the cost of
/// parsing a 20,000-file torrent.)
pub(crate) fn check_collisions<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), Error> {
    let mut files: HashSet<&[u8]> = HashSet::new();
    let mut dirs: HashSet<&[u8]> = HashSet::new();
    let collision = |p: &[u8]| Error::PathCollision(String::from_utf8_lossy(p).into_owned());
    let sep = std::path::MAIN_SEPARATOR as u8;
    for path in paths {
        let bytes = path.as_os_str().as_encoded_bytes();
        if files.contains(bytes) || dirs.contains(bytes) {
            return Err(collision(bytes));
        }
        let mut rest = bytes;
        while let Some(cut) = rest.iter().rposition(|&b| b == sep) {
            rest = rest.get(..cut).unwrap_or_default();
            if files.contains(rest) {
                return Err(collision(rest));
            }
            if !dirs.insert(rest) {
                // Its own ancestors are in already.
                break;
            }
        }
        files.insert(bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_components_pass() {
        let p = build_path(&["dir", "sub dir", ".hidden", "a..b", "x.y"]).unwrap();
        assert_eq!(p, Path::new("dir/sub dir/.hidden/a..b/x.y"));
    }

    #[test]
    fn traversal_is_rejected() {
        for bad in [
            &["..", "etc"][..],
            &["a", "..", ".."],
            &["/etc", "passwd"],
            &["a/../../b"],
            &["a\\..\\b"],
            &["C:", "x"],
            &["c:foo"],
        ] {
            assert!(
                matches!(build_path(bad), Err(Error::PathTraversal(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bad_components_are_rejected() {
        for bad in [&[""][..], &["a", ""], &["."], &["a", ".", "b"], &["a\0b"]] {
            assert!(
                matches!(build_path(bad), Err(Error::BadPathComponent(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn safe_join_rules() {
        let base = Path::new("/dl");
        assert_eq!(
            safe_join(base, Path::new("a/b")).unwrap(),
            Path::new("/dl/a/b")
        );
        for bad in [
            "../x",
            "/abs",
            "a/../../x",
            "",
            ".",
            "./a",
            "a/./b",
            "a//b",
            "a/",
        ] {
            assert!(safe_join(base, Path::new(bad)).is_err(), "{bad}");
        }
        // A single component holding a backslash is traversal on Windows.
        assert!(matches!(
            safe_join(base, Path::new("a\\..\\..\\x")),
            Err(Error::PathTraversal(_))
        ));
    }

    #[test]
    fn collisions() {
        let ok = [Path::new("t/a"), Path::new("t/b/c"), Path::new("t/A")];
        check_collisions(ok).unwrap();
        let dup = [Path::new("t/a"), Path::new("t/b"), Path::new("t/a")];
        assert!(matches!(check_collisions(dup), Err(Error::PathCollision(p)) if p == "t/a"));
        let file_then_dir = [Path::new("t/a"), Path::new("t/a/b")];
        assert!(matches!(
            check_collisions(file_then_dir),
            Err(Error::PathCollision(_))
        ));
        let dir_then_file = [Path::new("t/a/b/c"), Path::new("t/a/b")];
        assert!(matches!(
            check_collisions(dir_then_file),
            Err(Error::PathCollision(_))
        ));
    }
}
