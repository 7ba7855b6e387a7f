//! Formatting of process ownership: the `users:((...))` field (`-p`, `-T`)
//! and the process-info block (`-P`/`--process-info`). Pure formatting into a
//! byte buffer; the data comes from `sockq_proc`.
//!
//! # Escaping
//!
//! Names come from other processes and may contain anything: every one
//! goes through [`crate::sanitize::escape_bytes`], the terminal's one
//! escaping function (valid UTF-8 is kept, unlike ss, which turns every
//! non-ASCII byte into `?`; `"` and `\` are escaped, so `("name",…)`
//! always parses back).
//!
//! # The process-info block
//!
//! Under each socket row, one block per owning process (each pid once),
//! every line starting with a TAB (shown here as `→`) like ss's extended
//! lines:
//!
//! ```text
//! →process nginx pid=1160 ppid=1 user=root
//! →  cmd: nginx: master process /usr/sbin/nginx -c /tmp/x/nginx.conf
//! →  exe: /usr/sbin/nginx
//! →  cwd: /
//! →  stdout: /dev/null  stderr: /tmp/x/error.log
//! →  logs: /var/log/nginx/access.log (fd 5, append), /tmp/x/error.log (fd 2)
//! ```
//!
//! * `user=NAME` when the uid is in `/etc/passwd`, else `uid=N`.
//! * `cmd:` is the argument vector joined by single spaces (not shell
//!   quoted; each argument escaped).
//! * `exe:` ends with ` (deleted)` when the binary was removed or replaced
//!   on disk.
//! * `-` stands for "could not be read" (not root, kernel thread, exited).
//! * `logs:` lists regular files open for writing: `/var/log` first, then the
//!   others, each by fd; the parenthesis holds the fd and, when true,
//!   `append` and `deleted`. `logs: -` when there are none.

use crate::sanitize::escape_bytes;
use sockq_model::{Owner, ProcessInfo};
use std::io::Write;

/// Appends ` users:(("comm",pid=P,fd=F),…)` exactly as ss prints it (with
/// `threads`: `("comm",pid=P,tid=T,fd=F)`), in the given order. Nothing is
/// written when there are no owners, as with ss.
pub fn write_users(out: &mut Vec<u8>, owners: &[Owner], threads: bool) {
    if owners.is_empty() {
        return;
    }
    out.extend_from_slice(b" users:(");
    for (i, o) in owners.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"(\"");
        escape_bytes(out, o.comm.as_bytes());
        let _ = write!(out, "\",pid={}", o.pid);
        if threads {
            let _ = write!(out, ",tid={}", o.tid.unwrap_or(o.pid));
        }
        let _ = write!(out, ",fd={})", o.fd);
    }
    out.push(b')');
}

/// Appends the process-info block for one process (format in the module
/// docs). Each line starts with a TAB and ends with a newline.
pub fn write_process_info(out: &mut Vec<u8>, info: &ProcessInfo) {
    out.extend_from_slice(b"\tprocess ");
    escape_bytes(out, info.comm.as_bytes());
    let _ = write!(out, " pid={} ppid={} ", info.pid, info.ppid);
    match &info.user {
        Some(u) => {
            out.extend_from_slice(b"user=");
            escape_bytes(out, u.as_bytes());
        }
        None => {
            let _ = write!(out, "uid={}", info.uid);
        }
    }
    out.push(b'\n');

    out.extend_from_slice(b"\t  cmd: ");
    if info.cmdline.is_empty() {
        out.push(b'-');
    }
    for (i, arg) in info.cmdline.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        escape_bytes(out, arg);
    }
    out.push(b'\n');

    out.extend_from_slice(b"\t  exe: ");
    write_opt(out, info.exe.as_deref());
    if info.exe.is_some() && info.exe_deleted {
        out.extend_from_slice(b" (deleted)");
    }
    out.extend_from_slice(b"\n\t  cwd: ");
    write_opt(out, info.cwd.as_deref());
    out.extend_from_slice(b"\n\t  stdout: ");
    write_opt(out, info.stdout.as_deref());
    out.extend_from_slice(b"  stderr: ");
    write_opt(out, info.stderr.as_deref());

    out.extend_from_slice(b"\n\t  logs: ");
    if info.log_files.is_empty() {
        out.push(b'-');
    }
    for (i, f) in info.log_files.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        escape_bytes(out, &f.target);
        let _ = write!(out, " (fd {}", f.fd);
        if f.append {
            out.extend_from_slice(b", append");
        }
        if f.deleted {
            out.extend_from_slice(b", deleted");
        }
        out.push(b')');
    }
    out.push(b'\n');
}

/// An escaped value, or `-` when unknown.
fn write_opt(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => escape_bytes(out, v),
        None => out.push(b'-'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockq_model::{Comm, OpenFile};

    fn esc(raw: &[u8]) -> String {
        let mut out = Vec::new();
        escape_bytes(&mut out, raw);
        String::from_utf8(out).unwrap_or_default()
    }

    fn owner(comm: &[u8], pid: u32, tid: Option<u32>, fd: u32) -> Owner {
        Owner {
            comm: Comm::new(comm),
            pid,
            tid,
            fd,
        }
    }

    #[test]
    fn escapes_hostile_names() {
        assert_eq!(esc(b"nginx"), "nginx");
        assert_eq!(esc(b"a)b"), "a)b");
        assert_eq!(esc(b"a\"b"), "a\\\"b");
        assert_eq!(esc(b"a\\b"), "a\\\\b");
        assert_eq!(esc(b"x\ny"), "x\\x0ay");
        assert_eq!(esc(b"\x1b[31mred"), "\\x1b[31mred");
        assert_eq!(esc(b"nul\0del\x7f"), "nul\\x00del\\x7f");
        // Valid UTF-8 is kept (ss prints "caf??").
        assert_eq!(esc("café→日本".as_bytes()), "café→日本");
        // Bidi override, isolate, mark; C1 control; line separator.
        assert_eq!(esc("a\u{202e}b".as_bytes()), "a\\u{202e}b");
        assert_eq!(esc("\u{2066}x\u{2069}".as_bytes()), "\\u{2066}x\\u{2069}");
        assert_eq!(esc("\u{200f}".as_bytes()), "\\u{200f}");
        assert_eq!(esc("\u{85}".as_bytes()), "\\u{0085}");
        assert_eq!(esc("\u{2028}".as_bytes()), "\\u{2028}");
        // Invalid UTF-8 bytes.
        assert_eq!(esc(b"x\xffy\xc3"), "x\\xffy\\xc3");
        assert_eq!(esc(b"x\x01y\xc3\xa9)z"), "x\\x01yé)z");
    }

    #[test]
    fn users_like_ss() {
        let mut out = Vec::new();
        write_users(
            &mut out,
            &[
                owner(b"nginx", 1161, None, 6),
                owner(b"nginx", 1160, None, 6),
            ],
            false,
        );
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            " users:((\"nginx\",pid=1161,fd=6),(\"nginx\",pid=1160,fd=6))"
        );

        let mut out = Vec::new();
        write_users(
            &mut out,
            &[
                owner(b"python3", 12297, Some(12349), 4),
                owner(b"python3", 12297, Some(12297), 4),
            ],
            true,
        );
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            " users:((\"python3\",pid=12297,tid=12349,fd=4),(\"python3\",pid=12297,tid=12297,fd=4))"
        );

        let mut out = Vec::new();
        write_users(&mut out, &[], false);
        assert!(out.is_empty());

        // A hostile name cannot close the quote or the list.
        let mut out = Vec::new();
        write_users(&mut out, &[owner(b"x\",pid=1,fd=2))\n", 7, None, 3)], false);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            " users:((\"x\\\",pid=1,fd=2))\\x0a\",pid=7,fd=3))"
        );
    }

    #[test]
    fn process_block() {
        let info = ProcessInfo {
            pid: 1160,
            ppid: 1,
            uid: 0,
            user: Some("root".into()),
            comm: Comm::new(b"nginx"),
            cmdline: vec![b"nginx: master process /usr/sbin/nginx -c /tmp/x/nginx.conf".to_vec()],
            exe: Some(b"/usr/sbin/nginx".to_vec()),
            exe_deleted: false,
            cwd: Some(b"/".to_vec()),
            stdout: Some(b"/dev/null".to_vec()),
            stderr: Some(b"/tmp/x/error.log".to_vec()),
            log_files: vec![
                OpenFile {
                    fd: 5,
                    target: b"/var/log/nginx/access.log".to_vec(),
                    append: true,
                    deleted: false,
                },
                OpenFile {
                    fd: 2,
                    target: b"/tmp/x/error.log".to_vec(),
                    append: true,
                    deleted: false,
                },
                OpenFile {
                    fd: 9,
                    target: b"/tmp/x/old.log".to_vec(),
                    append: false,
                    deleted: true,
                },
            ],
        };
        let mut out = Vec::new();
        write_process_info(&mut out, &info);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "\tprocess nginx pid=1160 ppid=1 user=root\n\
             \t  cmd: nginx: master process /usr/sbin/nginx -c /tmp/x/nginx.conf\n\
             \t  exe: /usr/sbin/nginx\n\
             \t  cwd: /\n\
             \t  stdout: /dev/null  stderr: /tmp/x/error.log\n\
             \t  logs: /var/log/nginx/access.log (fd 5, append), /tmp/x/error.log (fd 2, append), \
             /tmp/x/old.log (fd 9, deleted)\n"
        );
    }

    #[test]
    fn process_block_unknowns_and_hostile_values() {
        let info = ProcessInfo {
            pid: 42,
            ppid: 2,
            uid: 1000,
            user: None,
            comm: Comm::new("\u{202e}evil\x1b".as_bytes()),
            cmdline: vec![b"/bin/x".to_vec(), b"a b".to_vec(), b"\"q\"\n".to_vec()],
            exe: Some(b"/bin/x".to_vec()),
            exe_deleted: true,
            cwd: None,
            stdout: Some(b"pipe:[123]".to_vec()),
            stderr: None,
            log_files: Vec::new(),
        };
        let mut out = Vec::new();
        write_process_info(&mut out, &info);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "\tprocess \\u{202e}evil\\x1b pid=42 ppid=2 uid=1000\n\
             \t  cmd: /bin/x a b \\\"q\\\"\\x0a\n\
             \t  exe: /bin/x (deleted)\n\
             \t  cwd: -\n\
             \t  stdout: pipe:[123]  stderr: -\n\
             \t  logs: -\n"
        );

        let mut out = Vec::new();
        write_process_info(&mut out, &ProcessInfo::default());
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "\tprocess  pid=0 ppid=0 uid=0\n\t  cmd: -\n\t  exe: -\n\t  cwd: -\n\
             \t  stdout: -  stderr: -\n\t  logs: -\n"
        );
    }
}
