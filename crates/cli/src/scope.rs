//! Stage 2 of a run: which network namespaces. Here, `-N NETNS`, or
//! `--all-netns`. A scope runs a closure inside each namespace and knows
//! nothing of what the closure does (dumps, events, `-s`).
//!
//! A namespace is entered only by a thread of sockq's own: the process, its
//! other threads and its mount namespace are never changed (unlike `ss -N`,
//! nothing is remounted and `/etc/netns/NAME` is not bind-mounted). The
//! thread opens its sock_diag sockets there, so dumps, kills and events
//! answer for that namespace, and so do interface names, `dev NAME` filters,
//! the `/proc/thread-self/net` fallback files and `-s`.
//!
//! `--all-netns` finds every distinct namespace: the named ones under
//! `/var/run/netns` and those of every process (`/proc/PID/ns/net`),
//! deduplicated by the nsfs inode. Each gets a label: its name, else
//! `net:[INODE](pid PID)` with the lowest pid in it. The host namespace
//! (pid 1's) comes first, then named ones by name, then the rest by inode.
//! Two worker threads dump them; rows are printed in that order. The process
//! scan (`-p`, `-P`, `users` filters) runs once: socket inodes are global.

use crate::config::Config;
use crate::error::CliError;
use sockq_netlink::ns::{NetnsId, enter_netns, netns_id};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// Where `ip netns` pins named namespaces.
pub const NETNS_RUN_DIR: &str = "/var/run/netns";

/// Worker threads for `--all-netns` (the dumps are kernel-bound).
const WORKERS: usize = 2;

/// Namespaces dumped ahead of the one being printed, at most.
const AHEAD: usize = 2 * WORKERS;

/// The `taken` count that tells workers to stop.
const STOPPED: usize = usize::MAX;

/// A namespace named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// What the user typed, for messages.
    pub spec: String,
    /// The nsfs file to enter.
    pub path: PathBuf,
}

impl Target {
    /// `NAME` (under /var/run/netns), a path (anything with a `/`), or `pid:PID`.
    pub fn parse(raw: &std::ffi::OsStr) -> Result<Target, CliError> {
        // Bytes: a path that is not UTF-8 names a namespace file too.
        let bytes = raw.as_encoded_bytes();
        let spec = crate::sanitize::escaped(bytes);
        let spec = spec.as_str();
        let path = if let Some(pid) = bytes.strip_prefix(b"pid:") {
            let pid: u32 = std::str::from_utf8(pid)
                .ok()
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| {
                    CliError::Usage(format!("-N {spec}: expected pid:PID with a numeric PID"))
                })?;
            PathBuf::from(format!("/proc/{pid}/ns/net"))
        } else if bytes.contains(&b'/') {
            PathBuf::from(raw)
        } else if spec.is_empty() || spec == "." || spec == ".." {
            return Err(CliError::Usage(format!(
                "-N \"{spec}\": not a namespace name"
            )));
        } else {
            Path::new(NETNS_RUN_DIR).join(raw)
        };
        Ok(Target {
            spec: spec.to_string(),
            path,
        })
    }
}

/// The reason of a netlink error without its context.
fn reason(e: &sockq_netlink::Error) -> String {
    match e {
        sockq_netlink::Error::Io { source, .. } => crate::error::io_reason(source),
        e => e.to_string(),
    }
}

/// Runs `f` on a thread that entered `target`'s namespace.
pub fn run_inside<T: Send>(
    target: &Target,
    f: impl FnOnce() -> Result<T, CliError> + Send,
) -> Result<T, CliError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter_netns(&target.path).map_err(|e| {
                CliError::Runtime(format!(
                    "cannot enter network namespace \"{}\" ({}): {}",
                    target.spec,
                    crate::sanitize::escaped(target.path.as_os_str().as_encoded_bytes()),
                    reason(&e)
                ))
            })?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(CliError::Runtime("namespace thread panicked".into())))
    })
}

/// One distinct network namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// The nsfs identity (device, inode).
    pub id: NetnsId,
    /// Its name under /var/run/netns, if it has one (the first by name).
    /// Bytes, not UTF-8: any file name there names a namespace.
    pub name: Option<OsString>,
    /// The lowest pid in it, if any process is.
    pub pid: Option<u32>,
    /// Whether it is the host's (pid 1's, else sockq's own).
    pub host: bool,
    /// The container its lowest pid runs in, as `runtime:name` (`podman:web`).
    pub container: Option<String>,
}

impl Namespace {
    /// The row label: `host`, the name, the container (`podman:web`), else
    /// `net:[INODE](pid PID)`. Raw bytes (a name need not be UTF-8): each
    /// output escapes them with its own function.
    pub fn label(&self) -> Vec<u8> {
        if self.host {
            return b"host".to_vec();
        }
        if let (None, Some(c)) = (&self.name, &self.container) {
            return c.clone().into_bytes();
        }
        match (&self.name, self.pid) {
            (Some(n), _) => n.as_encoded_bytes().to_vec(),
            (None, Some(p)) => format!("net:[{}](pid {p})", self.id.1).into_bytes(),
            (None, None) => format!("net:[{}]", self.id.1).into_bytes(),
        }
    }

    /// The file to enter.
    pub fn path(&self, proc_root: &Path) -> PathBuf {
        match (&self.name, self.pid) {
            (Some(n), _) => Path::new(NETNS_RUN_DIR).join(n),
            (None, Some(p)) => proc_root.join(p.to_string()).join("ns/net"),
            (None, None) => proc_root.join("self/ns/net"),
        }
    }
}

/// Every distinct namespace, in output order.
pub fn discover(proc_root: &Path, run_dir: &Path) -> Vec<Namespace> {
    let own = netns_id(&proc_root.join("self/ns/net")).ok();
    let host = netns_id(&proc_root.join("1/ns/net")).ok().or(own);
    // Only files on nsfs are namespaces (an unmounted name is a plain file).
    let nsfs_dev = own.map(|(d, _)| d);
    let mut found: HashMap<NetnsId, Namespace> = HashMap::new();
    let mut names: Vec<OsString> = std::fs::read_dir(run_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    names.sort();
    for n in names {
        let Ok(id) = netns_id(&run_dir.join(&n)) else {
            continue;
        };
        if nsfs_dev.is_some_and(|d| d != id.0) {
            continue;
        }
        found.entry(id).or_insert_with(|| Namespace {
            id,
            name: Some(n),
            pid: None,
            host: Some(id) == host,
            container: None,
        });
    }
    let mut pids: Vec<u32> = std::fs::read_dir(proc_root)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    for pid in pids {
        // A process may be gone or unreadable: skip it.
        let Ok(id) = netns_id(&proc_root.join(pid.to_string()).join("ns/net")) else {
            continue;
        };
        let e = found.entry(id).or_insert_with(|| Namespace {
            id,
            name: None,
            pid: None,
            host: Some(id) == host,
            container: None,
        });
        if e.pid.is_none() {
            e.pid = Some(pid);
        }
    }
    if let Some(id) = own {
        found.entry(id).or_insert_with(|| Namespace {
            id,
            name: None,
            pid: None,
            host: Some(id) == host,
            container: None,
        });
    }
    let mut v: Vec<Namespace> = found.into_values().collect();
    // A namespace with no name is labelled by the container its first
    // process runs in (read from /proc/PID/cgroup and the runtime's state).
    if let Ok(mut d) = sockq_proc::Detailer::new(proc_root, None) {
        for ns in v.iter_mut().filter(|n| n.name.is_none() && !n.host) {
            if let Some(pid) = ns.pid {
                ns.container = d.identity(pid).container.map(|c| c.label());
            }
        }
    }
    v.sort_by(|a, b| {
        (!a.host, a.name.is_none(), &a.name, a.id.1, a.id.0).cmp(&(
            !b.host,
            b.name.is_none(),
            &b.name,
            b.id.1,
            b.id.0,
        ))
    });
    v
}

/// Whether an error means the namespace went away while we looked
/// (its last process exited, its name was deleted).
fn vanished(e: &sockq_netlink::Error) -> bool {
    matches!(e, sockq_netlink::Error::Io { source, .. }
        if matches!(source.raw_os_error(), Some(2 | 3)))
}

/// The namespaces of a run.
pub enum Scope {
    /// The caller's own.
    Here,
    /// `-N`: one, entered by a thread of its own.
    Inside(Target),
    /// `--all-netns`: every one.
    All,
}

impl Scope {
    /// The scope the config asks for (`-N` is checked here).
    pub fn of(cfg: &Config) -> Result<Scope, CliError> {
        if cfg.all_netns {
            return Ok(Scope::All);
        }
        match &cfg.net {
            Some(spec) => Ok(Scope::Inside(Target::parse(spec)?)),
            None => Ok(Scope::Here),
        }
    }
}

/// `--all-netns`: every namespace ([`discover`]), with the directory of
/// named ones (`SOCKQ_NETNS_DIR` in tests).
pub struct AllNetns {
    /// In output order.
    pub spaces: Vec<Namespace>,
    run_dir: PathBuf,
    proc_root: PathBuf,
}

impl AllNetns {
    /// Finds every namespace.
    pub fn discover(proc_root: &Path) -> AllNetns {
        let run_dir = std::env::var_os("SOCKQ_NETNS_DIR")
            .map_or_else(|| PathBuf::from(NETNS_RUN_DIR), PathBuf::from);
        AllNetns {
            spaces: discover(proc_root, &run_dir),
            run_dir,
            proc_root: proc_root.to_path_buf(),
        }
    }

    /// Runs `work` inside every namespace, on worker threads, and hands
    /// each [`Visit`] to `take` on the calling thread, in namespace order,
    /// as results come in. A worker enters a namespace only when it is not
    /// in it already, so the caller's own namespace needs no privilege.
    /// An error from `take` stops the workers and ends the walk.
    ///
    /// At most [`AHEAD`] namespaces are dumped and not yet taken, so a slow
    /// reader of the output holds a few namespaces' results, not the host's.
    pub fn each<T: Send>(
        &self,
        work: impl Fn() -> Result<T, CliError> + Sync,
        mut take: impl FnMut(&Namespace, Visit<T>) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        let next = AtomicUsize::new(0);
        // How many results `take` has had; workers wait on it for room.
        let taken = Mutex::new(0usize);
        let room = Condvar::new();
        let set_taken = |n: usize| {
            *taken.lock().unwrap_or_else(PoisonError::into_inner) = n;
            room.notify_all();
        };
        std::thread::scope(|sc| -> Result<(), CliError> {
            let (tx, rx) = std::sync::mpsc::channel::<(usize, Visit<T>)>();
            for _ in 0..WORKERS.min(self.spaces.len()) {
                let tx = tx.clone();
                let (next, work, taken, room) = (&next, &work, &taken, &room);
                sc.spawn(move || {
                    // The namespace this thread is in: the process's, at first.
                    let mut here = netns_id(Path::new("/proc/thread-self/ns/net")).ok();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(ns) = self.spaces.get(i) else { break };
                        // The result for `taken` is never waiting here (it is
                        // within AHEAD), so this always ends.
                        let mut t = taken.lock().unwrap_or_else(PoisonError::into_inner);
                        while *t != STOPPED && i >= *t + AHEAD {
                            t = room.wait(t).unwrap_or_else(PoisonError::into_inner);
                        }
                        if *t == STOPPED {
                            break;
                        }
                        drop(t);
                        let path = match &ns.name {
                            Some(n) => self.run_dir.join(n),
                            None => ns.path(&self.proc_root),
                        };
                        let visit = if here == Some(ns.id) {
                            Visit::Dumped(work())
                        } else {
                            match enter(&path, ns.id) {
                                Ok(()) => {
                                    here = Some(ns.id);
                                    Visit::Dumped(work())
                                }
                                Err(v) => v,
                            }
                        };
                        if tx.send((i, visit)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut pending: BTreeMap<usize, Visit<T>> = BTreeMap::new();
            let mut want = 0usize;
            for (i, r) in rx {
                pending.insert(i, r);
                while let Some(r) = pending.remove(&want) {
                    let ns = self.spaces.get(want);
                    want += 1;
                    let Some(ns) = ns else { continue };
                    if let Err(e) = take(ns, r) {
                        // Stop the workers at once (a closed pipe).
                        next.store(usize::MAX / 2, Ordering::Relaxed);
                        set_taken(STOPPED);
                        return Err(e);
                    }
                    set_taken(want);
                }
            }
            Ok(())
        })
    }
}

/// What became of one namespace of `--all-netns`.
pub enum Visit<T> {
    /// Entered (or already there): the work's result.
    Dumped(Result<T, CliError>),
    /// Gone meanwhile: its last process exited, or its name was deleted
    /// (`ip netns del` unmounts the name before unlinking it, so entering
    /// it can also fail with EINVAL). Skipped silently.
    Vanished,
    /// Entering it was not permitted (EPERM: no CAP_SYS_ADMIN over it).
    Denied,
    /// Entering it failed for another reason.
    Failed(CliError),
}

/// Enters `path`, the namespace `id`, on the calling (worker) thread.
fn enter<T>(path: &Path, id: NetnsId) -> Result<(), Visit<T>> {
    let Err(e) = enter_netns(path) else {
        return Ok(());
    };
    // Whatever the error, a name that no longer leads to the same
    // namespace was deleted (or replaced) while we looked.
    if vanished(&e) || netns_id(path).ok() != Some(id) {
        return Err(Visit::Vanished);
    }
    if matches!(&e, sockq_netlink::Error::Io { source, .. } if source.raw_os_error() == Some(EPERM))
    {
        return Err(Visit::Denied);
    }
    Err(Visit::Failed(CliError::Runtime(format!(
        "cannot enter network namespace ({}): {}",
        crate::sanitize::escaped(path.as_os_str().as_encoded_bytes()),
        reason(&e)
    ))))
}

/// EPERM: setns without CAP_SYS_ADMIN over the namespace.
const EPERM: i32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("blue".as_ref()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.path, Path::new("/var/run/netns/blue"));
        let t = Target::parse("pid:42".as_ref()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.path, Path::new("/proc/42/ns/net"));
        let t = Target::parse("/run/netns/x".as_ref()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.path, Path::new("/run/netns/x"));
        assert!(Target::parse("pid:x".as_ref()).is_err());
        assert!(Target::parse("..".as_ref()).is_err());
    }

    #[test]
    fn labels() {
        let mut ns = Namespace {
            id: (4, 4026532281),
            name: None,
            pid: Some(1234),
            host: false,
            container: None,
        };
        assert_eq!(ns.label(), b"net:[4026532281](pid 1234)");
        ns.container = Some("podman:web".into());
        assert_eq!(ns.label(), b"podman:web");
        ns.name = Some("blue".into());
        assert_eq!(ns.label(), b"blue");
        // A name that is not UTF-8 keeps its bytes, for the escapers.
        use std::os::unix::ffi::OsStringExt as _;
        ns.name = Some(OsString::from_vec(b"sockq-\xff".to_vec()));
        assert_eq!(ns.label(), b"sockq-\xff");
        ns.host = true;
        assert_eq!(ns.label(), b"host");
    }

    /// Ten visits of this thread's own namespace (no setns needed) with a
    /// slow `take`: the workers never get more than AHEAD results ahead, and
    /// every namespace is still taken once, in order.
    #[test]
    fn workers_stay_a_bounded_number_of_namespaces_ahead() {
        let own = netns_id(Path::new("/proc/thread-self/ns/net")).unwrap_or_else(|e| panic!("{e}"));
        let one = |i: u32| Namespace {
            id: own,
            name: Some(format!("n{i}").into()),
            pid: None,
            host: false,
            container: None,
        };
        let all = AllNetns {
            spaces: (0..10).map(one).collect(),
            run_dir: PathBuf::from("/nonexistent"),
            proc_root: PathBuf::from("/proc"),
        };
        let started = AtomicUsize::new(0);
        let mut taken = 0usize;
        let mut most_ahead = 0usize;
        let mut order = Vec::new();
        all.each(
            || Ok(started.fetch_add(1, Ordering::SeqCst)),
            |ns, v| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                most_ahead = most_ahead.max(started.load(Ordering::SeqCst) - taken);
                taken += 1;
                assert!(matches!(v, Visit::Dumped(Ok(_))));
                order.push(ns.label());
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let want: Vec<Vec<u8>> = (0..10).map(|i| format!("n{i}").into_bytes()).collect();
        assert_eq!(order, want);
        assert!(most_ahead <= AHEAD, "{most_ahead} dumped and not taken");
        assert!(most_ahead >= 2, "the workers never ran ahead: {most_ahead}");
    }

    #[test]
    fn discovery_finds_our_own_namespace_once() {
        let v = discover(Path::new("/proc"), Path::new("/nonexistent"));
        let own = netns_id(Path::new("/proc/self/ns/net")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.iter().filter(|n| n.id == own).count(), 1);
        let mut ids: Vec<_> = v.iter().map(|n| n.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), v.len());
    }
}
