//! `--metrics-file PATH`: replace the file atomically, so node_exporter
//! (which may read it at any moment) sees the old file or the new one,
//! never a part.
//!
//! The text goes to a temporary file in the same directory (a rename is
//! atomic only within one filesystem), named `.NAME.PID.tmp` so the
//! textfile collector, which reads `*.prom`, never picks it up; it is
//! flushed to disk, renamed over PATH, and the directory is synced so the
//! rename survives a crash. On any failure the temporary file is removed
//! and PATH is left as it was.

use crate::error::CliError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Removes the temporary file unless it was renamed.
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The reason of an I/O error without Rust's ` (os error N)` suffix.
fn reason(e: &std::io::Error) -> String {
    let t = e.to_string();
    match t.find(" (os error") {
        Some(i) => t.get(..i).unwrap_or(&t).to_string(),
        None => t,
    }
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let fail = |e: &std::io::Error| {
        CliError::Runtime(format!(
            "cannot write metrics file {}: {}",
            path.display(),
            reason(e)
        ))
    };
    let Some(name) = path.file_name() else {
        return Err(CliError::Runtime(format!(
            "cannot write metrics file {}: not a file name",
            path.display()
        )));
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    // A file left by a killed run with our pid (pids are reused) goes first.
    let _ = std::fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(|e| fail(&e))?;
    let mut guard = TempGuard {
        path: tmp.clone(),
        armed: true,
    };
    f.write_all(bytes).map_err(|e| fail(&e))?;
    f.sync_all().map_err(|e| fail(&e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))?;
    guard.armed = false;
    // The rename is done; a failed directory sync only weakens durability
    // across a crash, so it is not an error.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sockq-metrics-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let d = tempdir("replace");
        let p = d.join("sockq.prom");
        std::fs::write(&p, "old\n").unwrap();
        write_atomic(&p, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["sockq.prom"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_directory_is_one_line_and_old_file_stays() {
        let d = tempdir("missing");
        let p = d.join("no-such-dir").join("sockq.prom");
        let e = write_atomic(&p, b"x\n").unwrap_err();
        let CliError::Runtime(msg) = e else {
            panic!("not a runtime error: {e:?}");
        };
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains("No such file or directory"), "{msg}");
        assert!(msg.contains("no-such-dir/sockq.prom"), "{msg}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
