//! The `processes` entries of JSON output (`-P`): the process, its
//! identity, its streams followed, its files.

use super::json_obj::{Obj, push_str};
use sockq_model::{FileUse, Identity, ProcessInfo, Reader, Stream};

/// One entry of `processes` (schema in docs/json.md).
pub fn process_info(b: &mut Vec<u8>, p: &ProcessInfo) {
    let mut o = Obj::new(b);
    o.num("pid", p.pid).num("ppid", p.ppid).num("uid", p.uid);
    if let Some(u) = &p.user {
        o.str("user", u.as_bytes());
    }
    o.str("comm", p.comm.as_bytes());
    o.raw("cmdline", |b| {
        b.push(b'[');
        for (i, a) in p.cmdline.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            push_str(b, a);
        }
        b.push(b']');
    });
    if let Some(e) = &p.exe {
        o.str("exe", e).bool("exe_deleted", p.exe_deleted);
    }
    // The kernel marks a removed target with a ` (deleted)` suffix: JSON
    // gives the path and a flag, as for `exe`.
    for (key, flag, v) in [
        ("cwd", "cwd_deleted", &p.cwd),
        ("stdout", "stdout_deleted", &p.stdout),
        ("stderr", "stderr_deleted", &p.stderr),
    ] {
        if let Some(v) = v {
            let (path, deleted) = without_deleted(v);
            o.str(key, path).bool(flag, deleted);
        }
    }
    o.raw("log_files", |b| {
        b.push(b'[');
        for (i, f) in p.log_files.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            let mut fo = Obj::new(b);
            fo.num("fd", f.fd).str("path", &f.target);
            fo.bool("append", f.append).bool("deleted", f.deleted);
            fo.end();
        }
        b.push(b']');
    });
    let d = &p.detail;
    if !d.identity.is_empty() {
        o.raw("identity", |b| identity(b, &d.identity));
    }
    if let Some(s) = &d.stdout {
        o.raw("stdout_stream", |b| stream(b, s));
    }
    if let Some(s) = &d.stderr {
        o.raw("stderr_stream", |b| stream(b, s));
    }
    o.raw("logs", |b| uses(b, &d.files.logs));
    o.num("logs_total", d.files.logs_total as u64);
    o.raw("writes", |b| uses(b, &d.files.writes));
    o.num("writes_total", d.files.writes_total as u64);
    o.end();
}

fn list<T>(b: &mut Vec<u8>, items: &[T], mut f: impl FnMut(&mut Vec<u8>, &T)) {
    b.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        f(b, x);
    }
    b.push(b']');
}

fn identity(b: &mut Vec<u8>, id: &Identity) {
    let mut o = Obj::new(b);
    if let Some(u) = &id.unit {
        o.str("unit", u.as_bytes());
        if let Some(k) = id.unit_kind() {
            o.str("unit_kind", k.as_str().as_bytes());
        }
        o.bool("user_unit", id.user_unit.is_some());
    }
    if let Some(uid) = id.user_unit {
        o.num("user_manager_uid", uid);
    }
    if let Some(s) = &id.slice {
        o.str("slice", s.as_bytes());
    }
    if let Some(c) = &id.container {
        o.raw("container", |b| {
            let mut co = Obj::new(b);
            co.str("runtime", c.runtime.as_str().as_bytes())
                .str("id", c.id.as_bytes())
                .str("short_id", c.short_id().as_bytes())
                .str("label", c.label().as_bytes());
            if let Some(n) = &c.name {
                co.str("name", n.as_bytes());
            }
            if let Some(i) = &c.image {
                co.str("image", i.as_bytes());
            }
            co.end();
        });
    }
    if let Some(p) = &id.pod {
        o.raw("pod", |b| {
            let mut po = Obj::new(b);
            po.str("uid", p.uid.as_bytes());
            if let Some(n) = &p.namespace {
                po.str("namespace", n.as_bytes());
            }
            if let Some(n) = &p.name {
                po.str("name", n.as_bytes());
            }
            po.end();
        });
    }
    o.end();
}

fn stream(b: &mut Vec<u8>, s: &Stream) {
    let mut o = Obj::new(b);
    o.str("target", &s.target);
    if let Some(k) = s.kind {
        o.str("kind", k.as_str().as_bytes());
    }
    if let Some(i) = s.inode {
        o.num("inode", i);
    }
    o.bool("append", s.append).bool("deleted", s.deleted);
    if let Some(r) = &s.reader {
        o.raw("reader", |b| reader(b, r));
    }
    o.end();
}

fn reader(b: &mut Vec<u8>, r: &Reader) {
    let mut o = Obj::new(b);
    o.str("kind", r.kind.as_str().as_bytes());
    if let Some(p) = r.pid {
        o.num("pid", p);
    }
    if let Some(c) = &r.comm {
        o.str("comm", c.as_bytes());
    }
    o.raw("logs", |b| list(b, &r.logs, |b, l| push_str(b, l)));
    if let Some(c) = &r.command {
        o.str("command", c.as_bytes());
    }
    if let Some(n) = &r.next {
        o.raw("next", |b| reader(b, n));
    }
    o.end();
}

fn uses(b: &mut Vec<u8>, files: &[FileUse]) {
    list(b, files, |b, f| {
        let mut o = Obj::new(b);
        o.str("path", &f.path);
        o.raw("fds", |b| {
            list(b, &f.fds, |b, fd| super::num::push_u64(b, u64::from(*fd)));
        });
        o.bool("append", f.append).bool("deleted", f.deleted);
        o.end();
    });
}

/// A link target without the kernel's ` (deleted)` suffix, and whether it
/// had one.
fn without_deleted(v: &[u8]) -> (&[u8], bool) {
    match v.strip_suffix(b" (deleted)") {
        Some(p) => (p, true),
        None => (v, false),
    }
}
