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

/// id → path, built on first use.
#[derive(Default)]
pub struct CgroupNames {
    map: OnceCell<HashMap<u64, String>>,
}

impl CgroupNames {
    /// The path of a cgroup id relative to the cgroup2 mount (`/` for the root).
    pub fn path(&self, id: u64) -> Option<&str> {
        self.map
            .get_or_init(|| {
                let mut m = HashMap::new();
                if let Some(root) = cgroup2_mount() {
                    walk(&root, "", &mut m, 0);
                }
                m
            })
            .get(&id)
            .map(String::as_str)
    }
}

fn walk(dir: &Path, rel: &str, m: &mut HashMap<u64, String>, depth: usize) {
    if depth > 64 {
        return;
    }
    if let Ok(meta) = std::fs::metadata(dir) {
        m.insert(
            meta.ino(),
            if rel.is_empty() {
                "/".to_string()
            } else {
                rel.to_string()
            },
        );
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let name = e.file_name();
            let child = format!("{rel}/{}", name.to_string_lossy());
            walk(&e.path(), &child, m, depth + 1);
        }
    }
}
