//! The whole answer about one process (`-P`/`--process-info`).

use crate::files::{link, open_for_writing, strip_deleted};
use crate::read::{
    comm_from_stat, num_cstr, open_anchor, open_dir, parse_u32, read_all, read_prefix, stat_fields,
    vanished,
};
use crate::{Error, UserNames};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::CWD;
use rustix::io::Errno;
use sockq_model::{Comm, OpenFile, ProcessDetail, ProcessInfo};
use std::path::Path;

/// Everything sockq shows about one process: pid, ppid, real uid and user
/// name (from `/etc/passwd`), name, command line, binary, working directory,
/// where fd 1 and 2 go, and the log files (see [`process_info_with`]).
pub fn process_info(proc_root: &Path, pid: u32) -> Result<ProcessInfo, Error> {
    process_info_with(proc_root, pid, &UserNames::load())
}

/// [`process_info`] with a preloaded user table (when asking about many
/// processes).
///
/// Only the process's existence (`stat`, `status`) is required; the parts
/// an unprivileged user cannot read (`exe`, `cwd`, `fd/` of another user's
/// process) are left empty (`None`, no log files).
///
/// Log files are the fds that are open for writing (`O_WRONLY` or `O_RDWR`
/// in `fdinfo/N` `flags:`), point at a regular file by absolute path, and
/// are not under `/dev`, `/proc`, `/sys` or a memfd. Files under `/var/log`
/// come first, then the others, each group sorted by fd. A file that was
/// removed or replaced on disk is marked `deleted` (the ` (deleted)` suffix
/// is stripped from the path).
pub fn process_info_with(
    proc_root: &Path,
    pid: u32,
    users: &UserNames,
) -> Result<ProcessInfo, Error> {
    let proc_fd = open_anchor(CWD, proc_root).map_err(|e| Error::ProcRoot {
        path: proc_root.to_path_buf(),
        source: e.into(),
    })?;
    let fail = |what: &'static str| {
        move |e: Errno| {
            if vanished(e) {
                Error::NoProcess { pid }
            } else {
                Error::Process {
                    pid,
                    what,
                    source: e.into(),
                }
            }
        }
    };
    let mut nb = [0u8; 12];
    // Every read below goes through this dirfd, so all of it is about the
    // same process even if the pid is reused meanwhile (then reads fail).
    let anchor = open_anchor(&proc_fd, num_cstr(pid, &mut nb)).map_err(fail("directory"))?;
    let anchor = anchor.as_fd();

    let mut stat = [0u8; 1024];
    let n = read_prefix(anchor, c"stat", &mut stat).map_err(fail("stat"))?;
    let stat = stat.get(..n).unwrap_or_default();
    let comm = comm_from_stat(stat).map(Comm::new).unwrap_or_default();
    // Fields after the name: state, ppid, ...
    let ppid = stat_fields(stat).nth(1).and_then(parse_u32).unwrap_or(0);

    let status = read_all(anchor, c"status").map_err(fail("status"))?;
    let uid = status_field(&status, b"Uid:").unwrap_or(0);

    let (exe, exe_deleted) = match link(anchor, c"exe") {
        Some(t) => {
            let (t, deleted) = strip_deleted(t);
            (Some(t), deleted)
        }
        None => (None, false),
    };

    let mut info = ProcessInfo {
        pid,
        ppid,
        uid,
        user: users.name(uid).map(str::to_owned),
        comm,
        cmdline: read_all(anchor, c"cmdline")
            .map(|c| split_cmdline(&c))
            .unwrap_or_default(),
        exe,
        exe_deleted,
        cwd: link(anchor, c"cwd"),
        stdout: None,
        stderr: None,
        log_files: Vec::new(),
        detail: ProcessDetail::default(),
    };

    if let Ok(fd_dir) = open_dir(anchor, c"fd") {
        info.stdout = link(fd_dir.as_fd(), c"1");
        info.stderr = link(fd_dir.as_fd(), c"2");
        let fdinfo = open_anchor(anchor, c"fdinfo").ok();
        info.log_files = log_files(fd_dir.as_fd(), fdinfo.as_ref().map(AsFd::as_fd));
    }
    Ok(info)
}

/// The first number after `key` in `/proc/PID/status` (for `Uid:` that is
/// the real uid).
fn status_field(status: &[u8], key: &[u8]) -> Option<u32> {
    status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(key))?
        .split(|b| b.is_ascii_whitespace())
        .find(|f| !f.is_empty())
        .and_then(parse_u32)
}

/// Splits `/proc/PID/cmdline` at NULs. Trailing NULs are padding (a process
/// that rewrote its title, like nginx, leaves a run of them), not empty
/// arguments.
fn split_cmdline(raw: &[u8]) -> Vec<Vec<u8>> {
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    match raw.get(..end) {
        Some(args) if !args.is_empty() => args.split(|&b| b == 0).map(<[u8]>::to_vec).collect(),
        _ => Vec::new(),
    }
}

/// Regular files open for writing, `/var/log` first, each group by fd
/// (the one walk of [`crate::files::open_for_writing`]).
fn log_files(fd_dir: BorrowedFd<'_>, fdinfo: Option<BorrowedFd<'_>>) -> Vec<OpenFile> {
    let Some(fdinfo) = fdinfo else {
        return Vec::new();
    };
    let mut files = open_for_writing(fd_dir, fdinfo);
    files.sort_by_key(|f| (!f.target.starts_with(b"/var/log/"), f.fd));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_split() {
        assert_eq!(
            split_cmdline(b"nginx: master process /usr/sbin/nginx\0\0\0\0"),
            vec![b"nginx: master process /usr/sbin/nginx".to_vec()]
        );
        assert_eq!(
            split_cmdline(b"a\0\0b\0"),
            vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec()]
        );
        assert_eq!(split_cmdline(b""), Vec::<Vec<u8>>::new());
        assert_eq!(split_cmdline(b"\0\0"), Vec::<Vec<u8>>::new());
        assert_eq!(split_cmdline(b"no-nul"), vec![b"no-nul".to_vec()]);
    }

    #[test]
    fn status_fields() {
        let status = b"Name:\tx\nPPid:\t7\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
        assert_eq!(status_field(status, b"Uid:"), Some(1000));
        assert_eq!(status_field(status, b"PPid:"), Some(7));
        assert_eq!(status_field(status, b"Foo:"), None);
    }
}
