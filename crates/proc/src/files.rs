//! A process's open fds, read once: the targets of fd 1 and 2 and the files
//! it writes, classified into logs and other writes, each path once.

use crate::read::{parse_u32, read_prefix};
use rustix::fd::BorrowedFd;
use rustix::fs::{AtFlags, FileType, RawDir, readlinkat, statat};
use sockq_model::{FileRole, FileUse, Files, OpenFile};
use std::collections::HashMap;
use std::mem::MaybeUninit;

/// The suffix procfs appends to a link whose file was unlinked or replaced.
const DELETED: &[u8] = b" (deleted)";
/// Link targets that are absolute paths but never files a process writes to.
const NOT_FILES: [&[u8]; 4] = [b"/dev/", b"/proc/", b"/sys/", b"/memfd:"];
/// The most distinct paths grouped per process; beyond it, fds on new paths
/// are only counted (bounded memory for a process with a million files).
const MAX_PATHS: usize = 4096;
/// The most fds looked at per process.
const MAX_FDS: usize = 1 << 20;

pub(crate) const O_ACCMODE: u32 = 0o3;
pub(crate) const O_RDONLY: u32 = 0o0;
const O_WRONLY: u32 = 0o1;
const O_RDWR: u32 = 0o2;
pub(crate) const O_APPEND: u32 = 0o2000;

/// Removes the ` (deleted)` suffix and says whether it was there.
pub(crate) fn strip_deleted(mut target: Vec<u8>) -> (Vec<u8>, bool) {
    if target.ends_with(DELETED) {
        target.truncate(target.len().saturating_sub(DELETED.len()));
        (target, true)
    } else {
        (target, false)
    }
}

/// The `flags:` value (octal) in an fdinfo file.
pub(crate) fn fdinfo_flags(fdinfo: &[u8]) -> Option<u32> {
    let v = fdinfo
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"flags:"))?;
    let digits = v.trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &b| match b {
        b'0'..=b'7' => acc.checked_mul(8)?.checked_add(u32::from(b - b'0')),
        _ => None,
    })
}

/// The open flags of one fd, from `fdinfo/N`.
pub(crate) fn fd_flags(fdinfo: BorrowedFd<'_>, name: &std::ffi::CStr) -> Option<u32> {
    let mut fi = [0u8; 512];
    let n = read_prefix(fdinfo, name, &mut fi).ok()?;
    fi.get(..n).and_then(fdinfo_flags)
}

/// Reads a link relative to `dir`; `None` if it cannot be read.
pub(crate) fn link(dir: BorrowedFd<'_>, name: &std::ffi::CStr) -> Option<Vec<u8>> {
    readlinkat(dir, name, Vec::new())
        .ok()
        .map(|c| c.into_bytes())
}

/// Whether a path is a log: anything under `/var/log`, or a name ending
/// `.log`, `.err`, `.out`, or a rotated `.log.N`.
pub(crate) fn is_log_path(path: &[u8]) -> bool {
    if path.starts_with(b"/var/log/") {
        return true;
    }
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    if [&b".log"[..], b".err", b".out"]
        .iter()
        .any(|s| name.ends_with(s) && name.len() > s.len())
    {
        return true;
    }
    // `app.log.1`, `app.log.12`
    let digits = name.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    digits > 0
        && name
            .get(..name.len().saturating_sub(digits))
            .is_some_and(|stem| stem.ends_with(b".log.") && stem.len() > 5)
}

/// Files open for writing, classified and grouped by path.
pub(crate) fn written_files(fd_dir: BorrowedFd<'_>, fdinfo: BorrowedFd<'_>) -> Files {
    group(&open_for_writing(fd_dir, fdinfo))
}

/// The one walk of a process's fd directory: each fd open for writing
/// (`O_WRONLY` or `O_RDWR`) on a regular file by absolute path, not under
/// `/dev`, `/proc`, `/sys` or a memfd, in directory order. Both the log
/// list of [`crate::process_info`] and [`written_files`] come from it, so
/// `-P` reads each link once. At most [`MAX_FDS`] entries are looked at.
pub(crate) fn open_for_writing(fd_dir: BorrowedFd<'_>, fdinfo: BorrowedFd<'_>) -> Vec<OpenFile> {
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 16 * 1024];
    let mut out = Vec::new();
    let mut dir = RawDir::new(fd_dir, &mut buf[..]);
    let mut seen = 0usize;
    while let Some(ent) = dir.next() {
        let Ok(ent) = ent else { break };
        seen += 1;
        if seen > MAX_FDS {
            break;
        }
        let name = ent.file_name();
        let Some(fd) = parse_u32(name.to_bytes()) else {
            continue;
        };
        let Some(target) = link(fd_dir, name) else {
            continue;
        };
        if !target.starts_with(b"/") || NOT_FILES.iter().any(|p| target.starts_with(p)) {
            continue;
        }
        let Some(flags) = fd_flags(fdinfo, name) else {
            continue;
        };
        let acc = flags & O_ACCMODE;
        if acc != O_WRONLY && acc != O_RDWR {
            continue;
        }
        // Follows the magic link: the open file itself, even if deleted.
        match statat(fd_dir, name, AtFlags::empty()) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
            _ => continue,
        }
        let (target, deleted) = strip_deleted(target);
        out.push(OpenFile {
            fd,
            target,
            append: flags & O_APPEND != 0,
            deleted,
        });
    }
    out
}

/// Groups the fds of [`open_for_writing`] by path (at most [`MAX_PATHS`]
/// paths; fds on further paths are only counted) and classifies them.
pub(crate) fn group(entries: &[OpenFile]) -> Files {
    let mut by_path: HashMap<&[u8], usize> = HashMap::new();
    let mut uses: Vec<FileUse> = Vec::new();
    let mut overflow_logs = 0usize;
    let mut overflow_writes = 0usize;
    for e in entries {
        if let Some(&i) = by_path.get(e.target.as_slice()) {
            if let Some(u) = uses.get_mut(i) {
                u.fds.push(e.fd);
                u.append |= e.append;
                u.deleted |= e.deleted;
                if e.append {
                    u.role = FileRole::Log;
                }
            }
            continue;
        }
        let role = if e.append || is_log_path(&e.target) {
            FileRole::Log
        } else {
            FileRole::Write
        };
        if uses.len() >= MAX_PATHS {
            match role {
                FileRole::Log => overflow_logs += 1,
                FileRole::Write => overflow_writes += 1,
            }
            continue;
        }
        by_path.insert(&e.target, uses.len());
        uses.push(FileUse {
            path: e.target.clone(),
            fds: vec![e.fd],
            append: e.append,
            deleted: e.deleted,
            role,
        });
    }
    classify(uses, overflow_logs, overflow_writes)
}

/// Sorts and splits grouped uses: logs under `/var/log` first, then by
/// first fd; writes by first fd; each role capped at [`Files::MAX_KEPT`].
pub(crate) fn classify(mut uses: Vec<FileUse>, more_logs: usize, more_writes: usize) -> Files {
    for u in &mut uses {
        u.fds.sort_unstable();
        u.fds.dedup();
    }
    let first = |u: &FileUse| u.fds.first().copied().unwrap_or(u32::MAX);
    uses.sort_by_key(|u| (!u.path.starts_with(b"/var/log/"), first(u)));
    let (mut logs, mut writes): (Vec<FileUse>, Vec<FileUse>) =
        uses.into_iter().partition(|u| u.role == FileRole::Log);
    writes.sort_by_key(first);
    let logs_total = logs.len().saturating_add(more_logs);
    let writes_total = writes.len().saturating_add(more_writes);
    logs.truncate(Files::MAX_KEPT);
    writes.truncate(Files::MAX_KEPT);
    Files {
        logs,
        writes,
        logs_total,
        writes_total,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn log_names() {
        for p in [
            &b"/var/log/nginx/access"[..],
            b"/srv/app/error.log",
            b"/tmp/x.err",
            b"/tmp/run.out",
            b"/srv/app.log.1",
            b"/srv/app.log.12",
        ] {
            assert!(is_log_path(p), "{}", String::from_utf8_lossy(p));
        }
        for p in [
            &b"/var/lib/db/data.1"[..],
            b"/tmp/.log",
            b"/srv/catalog",
            b"/srv/app.log.",
            b"/srv/app.log.x",
            b"/srv/logfile",
            b"/srv/.log.1",
        ] {
            assert!(!is_log_path(p), "{}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn flags_and_deleted() {
        assert_eq!(
            fdinfo_flags(b"pos:\t0\nflags:\t0102001\nmnt_id:\t3\n"),
            Some(0o102001)
        );
        assert_eq!(fdinfo_flags(b"flags:\t09\n"), None);
        assert_eq!(fdinfo_flags(b"pos:\t0\n"), None);
        assert_eq!(
            strip_deleted(b"/usr/bin/x (deleted)".to_vec()),
            (b"/usr/bin/x".to_vec(), true)
        );
        assert_eq!(
            strip_deleted(b"/usr/bin/x".to_vec()),
            (b"/usr/bin/x".to_vec(), false)
        );
    }

    #[test]
    fn classify_orders_and_caps() {
        let u = |p: &[u8], fds: &[u32], role| FileUse {
            path: p.to_vec(),
            fds: fds.to_vec(),
            append: false,
            deleted: false,
            role,
        };
        let f = classify(
            vec![
                u(b"/tmp/e.log", &[3, 2], FileRole::Log),
                u(b"/var/log/a", &[9], FileRole::Log),
                u(b"/data/b", &[7], FileRole::Write),
                u(b"/data/a", &[5], FileRole::Write),
            ],
            1,
            3,
        );
        let paths: Vec<&[u8]> = f.logs.iter().map(|u| &u.path[..]).collect();
        assert_eq!(paths, vec![&b"/var/log/a"[..], b"/tmp/e.log"]);
        assert_eq!(f.logs.get(1).map(|u| u.fds.clone()), Some(vec![2, 3]));
        let paths: Vec<&[u8]> = f.writes.iter().map(|u| &u.path[..]).collect();
        assert_eq!(paths, vec![&b"/data/a"[..], b"/data/b"]);
        assert_eq!((f.logs_total, f.writes_total), (3, 5));
    }
}
