//! cgroup v2 ids and paths. On cgroup2 an id is the inode number of the
//! cgroup's directory, so a path resolves with one `stat`, and an id back to
//! a path with one walk of the hierarchy (done once, only when needed).

use std::cell::OnceCell;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The cgroup2 mount point, from /proc/mounts.
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        let (_dev, dir, fstype) = (w.next()?, w.next()?, w.next()?);
        (fstype == "cgroup2").then(|| PathBuf::from(dir))
    })
}

/// The id of a cgroup path: as given (absolute or relative to the current
/// directory), else relative to the cgroup2 mount, as ss resolves it.
pub fn cgroup_id(path: &str) -> Option<u64> {
    let direct = Path::new(path);
    if let Ok(m) = std::fs::metadata(direct)
        && m.is_dir()
    {
        return Some(m.ino());
    }
    let root = cgroup2_mount()?;
    let rel = path.trim_start_matches('/');
    std::fs::metadata(root.join(rel))
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| m.ino())
}

/// id → path, built on first use. Paths are bytes: a cgroup directory may
/// be named with any, and the printers escape them.
#[derive(Default)]
pub struct CgroupNames {
    map: OnceCell<HashMap<u64, Vec<u8>>>,
}

impl CgroupNames {
    /// The path of a cgroup id relative to the cgroup2 mount (`/` for the root).
    pub fn path(&self, id: u64) -> Option<&[u8]> {
        self.map
            .get_or_init(|| {
                let mut m = HashMap::new();
                if let Some(root) = cgroup2_mount() {
                    walk(&root, b"", &mut m, 0);
                }
                m
            })
            .get(&id)
            .map(Vec::as_slice)
    }
}

fn walk(dir: &Path, rel: &[u8], m: &mut HashMap<u64, Vec<u8>>, depth: usize) {
    if depth > 64 {
        return;
    }
    if let Ok(meta) = std::fs::metadata(dir) {
        m.insert(
            meta.ino(),
            if rel.is_empty() {
                b"/".to_vec()
            } else {
                rel.to_vec()
            },
        );
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let name = e.file_name();
            let mut child = rel.to_vec();
            child.push(b'/');
            child.extend_from_slice(name.as_encoded_bytes());
            walk(&e.path(), &child, m, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt as _;

    /// A directory named with 0xff keeps its byte in the path (escaped by the
    /// printer as `\xff`), never U+FFFD.
    #[test]
    fn walk_keeps_bytes_that_are_not_utf8() {
        let root = std::env::temp_dir().join(format!("sockq-cgwalk-{}", std::process::id()));
        let bad = root
            .join("system.slice")
            .join(std::ffi::OsStr::from_bytes(b"w\xff.service"));
        if let Err(e) = std::fs::create_dir_all(&bad) {
            panic!("mkdir {}: {e}", bad.display());
        }
        let mut m = HashMap::new();
        walk(&root, b"", &mut m, 0);
        let ino = std::fs::metadata(&bad).map(|m| m.ino()).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&root);
        let path = m.get(&ino).cloned().unwrap_or_default();
        assert_eq!(path, b"/system.slice/w\xff.service");
        assert_eq!(
            crate::sanitize::escaped(&path),
            "/system.slice/w\\xff.service"
        );
    }
}
