//! An output file that is not touched until there is something to commit:
//! `-D FILE` must leave an existing FILE alone when the dump fails (no
//! privilege, a bad filter), and name FILE when writing fails (a full disk).
//!
//! A regular file (or a new one) is written to a temporary file in the same
//! directory and renamed over FILE by [`OutFile::commit`]; a dropped
//! `OutFile` removes its temporary file. Anything else (a FIFO, a device, a
//! symbolic link, a directory we cannot create files in) is opened, without
//! truncation, at the first write.
//!
//! [`write_atomic`] (`--metrics-file`) uses the same temporary file but
//! never falls back to writing in place: a reader (node_exporter) must see
//! the old file or the new one, never a part.

use crate::error::CliError;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// See the module docs.
pub struct OutFile {
    path: PathBuf,
    /// The temporary file for a regular target, once created.
    temp: Option<PathBuf>,
    /// Whether the target is written through a temporary file.
    replace: bool,
    w: Option<BufWriter<File>>,
    /// Set by [`write_atomic`]: always through a temporary file, the
    /// directory synced after the rename, and errors worded
    /// `cannot write WHAT FILE: REASON`.
    atomic: Option<&'static str>,
}

impl OutFile {
    /// Prepares `path`; touches nothing yet.
    pub fn new(path: &Path) -> OutFile {
        let replace = match std::fs::symlink_metadata(path) {
            Ok(m) => m.file_type().is_file(),
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        };
        OutFile {
            path: path.to_path_buf(),
            temp: None,
            replace,
            w: None,
            atomic: None,
        }
    }

    fn shown(&self) -> String {
        crate::sanitize::escaped(self.path.as_os_str().as_encoded_bytes())
    }

    fn error(&self, doing: &str, e: &io::Error) -> CliError {
        match self.atomic {
            Some(what) => CliError::Runtime(format!(
                "cannot write {what} {}: {}",
                self.shown(),
                crate::error::io_reason(e)
            )),
            None => CliError::Runtime(format!("{doing} {}: {e}", self.shown())),
        }
    }

    fn open(&mut self) -> Result<&mut BufWriter<File>, CliError> {
        if self.w.is_none() {
            let file = if self.atomic.is_some() {
                self.create_temp().map_err(|e| self.error("creating", &e))?
            } else if self.replace {
                match self.create_temp() {
                    Ok(f) => f,
                    // No room for a temporary file next to it: write in place.
                    Err(_) => {
                        self.replace = false;
                        self.open_in_place()?
                    }
                }
            } else {
                self.open_in_place()?
            };
            self.w = Some(BufWriter::new(file));
        }
        self.w
            .as_mut()
            .ok_or_else(|| CliError::Runtime("output file not open".into()))
    }

    fn create_temp(&mut self) -> io::Result<File> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Some(name) = self.path.file_name() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file name",
            ));
        };
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".sockq-{}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        // A file left by a killed run with our pid (pids are reused) goes first.
        let _ = std::fs::remove_file(&tmp);
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        if self.atomic.is_some() {
            // Readable by node_exporter's user, writable by nobody else.
            o.mode(0o644);
        }
        let f = o.open(&tmp)?;
        // Keep the mode of the file being replaced.
        if let Ok(m) = std::fs::metadata(&self.path) {
            let _ = f.set_permissions(m.permissions());
        }
        self.temp = Some(tmp);
        Ok(f)
    }

    fn open_in_place(&self) -> Result<File, CliError> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(self.replace_in_place_truncates())
            .open(&self.path)
            .map_err(|e| self.error("creating", &e))
    }

    /// A regular file written in place is truncated (at the first write,
    /// when the dump already works); a FIFO or a device is not.
    fn replace_in_place_truncates(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| m.file_type().is_file())
    }

    /// Appends `bytes` (opening the file first if needed).
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        let r = self.open()?.write_all(bytes);
        r.map_err(|e| self.error("writing", &e))
    }

    /// Flushes, and puts the file in place: FILE now holds the output (an
    /// empty one when nothing was written).
    pub fn commit(mut self) -> Result<(), CliError> {
        self.open()?;
        if let Some(mut w) = self.w.take() {
            // A FIFO or a device may not sync; the atomic file must.
            let atomic = self.atomic.is_some();
            let r = w.flush().and_then(|()| {
                w.get_ref()
                    .sync_data()
                    .or_else(|e| if atomic { Err(e) } else { Ok(()) })
            });
            r.map_err(|e| self.error("writing", &e))?;
        }
        if let Some(tmp) = self.temp.take() {
            if let Err(e) = std::fs::rename(&tmp, &self.path) {
                let _ = std::fs::remove_file(&tmp);
                return Err(self.error("replacing", &e));
            }
            // The rename is done; a failed directory sync only weakens
            // durability across a crash, so it is not an error.
            if self.atomic.is_some()
                && let Some(d) = self.path.parent()
                && let Ok(d) = File::open(if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                })
            {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// Replaces `path` with `bytes` atomically (temporary file in the same
/// directory, fsync, rename, directory sync); on failure `path` is left as
/// it was and the error reads `cannot write WHAT PATH: REASON`.
pub fn write_atomic(path: &Path, what: &'static str, bytes: &[u8]) -> Result<(), CliError> {
    let mut f = OutFile::new(path);
    f.atomic = Some(what);
    f.write_all(bytes)?;
    f.commit()
}

impl Drop for OutFile {
    fn drop(&mut self) {
        // Not committed: FILE keeps what it had.
        if let Some(tmp) = self.temp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sockq-outfile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        d
    }

    #[test]
    fn uncommitted_leaves_the_file_alone() {
        let d = dir("keep");
        let p = d.join("dump");
        std::fs::write(&p, b"old").unwrap_or_else(|e| panic!("{e}"));
        {
            let mut f = OutFile::new(&p);
            f.write_all(b"new").unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(std::fs::read(&p).unwrap_or_default(), b"old");
        assert_eq!(std::fs::read_dir(&d).map(|r| r.count()).unwrap_or(0), 1);
        let mut f = OutFile::new(&p);
        f.write_all(b"new").unwrap_or_else(|e| panic!("{e}"));
        f.commit().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&p).unwrap_or_default(), b"new");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn empty_commit_creates_an_empty_file() {
        let d = dir("empty");
        let p = d.join("dump");
        OutFile::new(&p).commit().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&p).map(|v| v.len()).ok(), Some(0));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn full_device_names_the_file() {
        let mut f = OutFile::new(Path::new("/dev/full"));
        let r = f.write_all(&[0u8; 1 << 16]).and_then(|()| f.commit());
        let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("/dev/full"), "{msg}");
    }

    #[test]
    fn atomic_replaces_the_file_and_leaves_no_temporary() {
        let d = dir("replace");
        let p = d.join("sockq.prom");
        std::fs::write(&p, "old\n").unwrap_or_else(|e| panic!("{e}"));
        write_atomic(&p, "metrics file", b"new\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read_to_string(&p).unwrap_or_default(), "new\n");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names, ["sockq.prom"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn atomic_missing_directory_is_one_line_and_old_file_stays() {
        let d = dir("missing");
        let p = d.join("no-such-dir").join("sockq.prom");
        let e = write_atomic(&p, "metrics file", b"x\n").err();
        let Some(CliError::Runtime(msg)) = e else {
            panic!("not a runtime error: {e:?}");
        };
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains("No such file or directory"), "{msg}");
        assert!(msg.contains("no-such-dir/sockq.prom"), "{msg}");
        assert!(msg.starts_with("cannot write metrics file "), "{msg}");
        assert!(!msg.contains("os error"), "{msg}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn atomic_never_writes_through_a_symlink_in_place() {
        let d = dir("link");
        let target = d.join("target");
        std::fs::write(&target, "old\n").unwrap_or_else(|e| panic!("{e}"));
        let p = d.join("sockq.prom");
        std::os::unix::fs::symlink(&target, &p).unwrap_or_else(|e| panic!("{e}"));
        write_atomic(&p, "metrics file", b"new\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read_to_string(&p).unwrap_or_default(), "new\n");
        assert_eq!(
            std::fs::read_to_string(&target).unwrap_or_default(),
            "old\n"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
