//! Small allocation-free helpers for reading procfs relative to a dirfd.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags, openat};
use rustix::io::{Errno, retry_on_intr};
use rustix::path::Arg;
use std::ffi::CStr;

/// Opens a directory for listing.
pub(crate) fn open_dir<Fd: AsFd, P: Arg>(dir: Fd, name: P) -> Result<OwnedFd, Errno> {
    openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Opens a directory only as an anchor for `*at` calls (`O_PATH`: no
/// permission check, cheapest open).
pub(crate) fn open_anchor<Fd: AsFd, P: Arg>(dir: Fd, name: P) -> Result<OwnedFd, Errno> {
    openat(
        dir,
        name,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Reads the start of a file into `buf`; returns how many bytes were read.
pub(crate) fn read_prefix<Fd: AsFd>(dir: Fd, name: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    let fd = openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        let n = retry_on_intr(|| rustix::io::read(&fd, &mut *rest))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Reads a whole (small, procfs) file.
pub(crate) fn read_all<Fd: AsFd>(dir: Fd, name: &CStr) -> Result<Vec<u8>, Errno> {
    let fd = openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = retry_on_intr(|| rustix::io::read(&fd, &mut chunk[..]))?;
        match chunk.get(..n) {
            Some(got) if n > 0 => out.extend_from_slice(got),
            _ => break,
        }
    }
    Ok(out)
}

/// Parses a decimal `u32` (no sign, no spaces); `None` on anything else,
/// including `.` and `..`.
pub(crate) fn parse_u32(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(v)
}

/// The inode in a `socket:[N]` link target.
pub(crate) fn parse_socket_link(link: &[u8]) -> Option<u32> {
    parse_u32(link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
}

/// The inode in a `pipe:[N]` link target.
pub(crate) fn parse_pipe_link(link: &[u8]) -> Option<u32> {
    parse_u32(link.strip_prefix(b"pipe:[")?.strip_suffix(b"]")?)
}

/// The name in `/proc/PID/stat`: between the first `(` and the *last* `)`,
/// so a name containing `)` is kept whole (ss cuts it at the first `)`).
pub(crate) fn comm_from_stat(stat: &[u8]) -> Option<&[u8]> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(open.checked_add(1)?..close)
}

/// The fields after the name in `/proc/PID/stat` (starting with the state).
pub(crate) fn stat_fields(stat: &[u8]) -> impl Iterator<Item = &[u8]> {
    let close = stat.iter().rposition(|&b| b == b')');
    let rest = close
        .and_then(|c| stat.get(c.saturating_add(1)..))
        .unwrap_or(&[]);
    rest.split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
}

/// Writes `n` as a NUL-terminated decimal into `buf` and returns it as a
/// `CStr`, to open `/proc/<n>` without allocating.
pub(crate) fn num_cstr(n: u32, buf: &mut [u8; 12]) -> &CStr {
    let mut tmp = [0u8; 10];
    let mut len = 0;
    let mut v = n;
    loop {
        if let Some(slot) = tmp.get_mut(len) {
            *slot = b'0' + (v % 10) as u8;
        }
        len += 1;
        v /= 10;
        if v == 0 || len >= tmp.len() {
            break;
        }
    }
    for (dst, src) in buf.iter_mut().zip(tmp.iter().take(len).rev()) {
        *dst = *src;
    }
    if let Some(nul) = buf.get_mut(len) {
        *nul = 0;
    }
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"0")
}

/// Whether an error means "this process or fd is gone".
pub(crate) fn vanished(e: Errno) -> bool {
    e == Errno::NOENT || e == Errno::SRCH
}

/// Whether an error means "not allowed to look".
pub(crate) fn denied(e: Errno) -> bool {
    e == Errno::ACCESS || e == Errno::PERM
}

/// Whether the procfs mounted at `proc_root` hides other users' processes
/// from this caller: its mount options hold `hidepid=2`/`invisible` or
/// `hidepid=4`/`ptraceable` (from `proc_root/self/mountinfo`, the last mount
/// on that point) and the caller is not root. (A `gid=` exemption is not
/// checked: the answer is then "may hide".)
pub(crate) fn pids_hidden(proc_root: &std::path::Path) -> bool {
    if rustix::process::geteuid().is_root() {
        return false;
    }
    let Ok(point) = std::fs::canonicalize(proc_root) else {
        return false;
    };
    let Ok(info) = std::fs::read(proc_root.join("self/mountinfo")) else {
        return false;
    };
    let mut hides = false;
    for line in info.split(|&b| b == b'\n') {
        if let Some(h) = mount_hides_pids(line, point.as_os_str().as_encoded_bytes()) {
            hides = h;
        }
    }
    hides
}

/// For a mountinfo line of a procfs mounted at `point`: whether its options
/// hide pids; `None` for any other line.
pub(crate) fn mount_hides_pids(line: &[u8], point: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(line).ok()?;
    let (left, right) = text.split_once(" - ")?;
    let mount_point = left.split(' ').nth(4)?.replace("\\040", " ");
    let mut r = right.split(' ');
    if r.next()? != "proc" || mount_point.as_bytes() != point {
        return None;
    }
    let opts = r.nth(1).unwrap_or_default();
    Some(opts.split(',').any(|o| {
        matches!(
            o,
            "hidepid=2" | "hidepid=invisible" | "hidepid=4" | "hidepid=ptraceable"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidepid_options_are_read_from_mountinfo() {
        let line = |opts: &str| format!("22 27 0:21 / /proc rw,relatime - proc proc {opts}");
        assert_eq!(
            mount_hides_pids(line("rw").as_bytes(), b"/proc"),
            Some(false)
        );
        for o in [
            "rw,hidepid=invisible",
            "rw,hidepid=2",
            "rw,hidepid=ptraceable,subset=pid",
        ] {
            assert_eq!(
                mount_hides_pids(line(o).as_bytes(), b"/proc"),
                Some(true),
                "{o}"
            );
        }
        assert_eq!(
            mount_hides_pids(line("rw,hidepid=noaccess").as_bytes(), b"/proc"),
            Some(false)
        );
        assert_eq!(
            mount_hides_pids(line("rw,hidepid=2").as_bytes(), b"/x"),
            None
        );
        let sys = "23 27 0:22 / /sys rw - sysfs sysfs rw";
        assert_eq!(mount_hides_pids(sys.as_bytes(), b"/sys"), None);
    }

    #[test]
    fn u32_parsing() {
        assert_eq!(parse_u32(b"0"), Some(0));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"."), None);
        assert_eq!(parse_u32(b"12a"), None);
    }

    #[test]
    fn socket_links() {
        assert_eq!(parse_socket_link(b"socket:[12345]"), Some(12345));
        assert_eq!(parse_socket_link(b"socket:[]"), None);
        assert_eq!(parse_socket_link(b"socket:[12"), None);
        assert_eq!(parse_socket_link(b"pipe:[12]"), None);
        assert_eq!(parse_socket_link(b"/tmp/socket:[1]"), None);
        assert_eq!(parse_socket_link(b"socket:[99999999999]"), None);
    }

    #[test]
    fn comm_keeps_parens() {
        assert_eq!(
            comm_from_stat(b"42 (a) b)) S 1 42 42 0"),
            Some(&b"a) b)"[..])
        );
        assert_eq!(comm_from_stat(b"1 (init) S 0"), Some(&b"init"[..]));
        assert_eq!(comm_from_stat(b"1 () S 0"), Some(&b""[..]));
        assert_eq!(comm_from_stat(b"garbage"), None);
        assert_eq!(comm_from_stat(b") ("), None);
        let f: Vec<&[u8]> = stat_fields(b"42 (a) b)) S 7 42").collect();
        assert_eq!(f, vec![&b"S"[..], b"7", b"42"]);
    }

    #[test]
    fn numbers_as_cstr() {
        let mut b = [0u8; 12];
        assert_eq!(num_cstr(0, &mut b).to_bytes(), b"0");
        assert_eq!(num_cstr(1160, &mut b).to_bytes(), b"1160");
        assert_eq!(num_cstr(u32::MAX, &mut b).to_bytes(), b"4294967295");
    }
}
