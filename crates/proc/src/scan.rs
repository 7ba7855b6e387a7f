//! The `/proc/*/fd/*` walk: socket inode -> holders.

use crate::read::{
    comm_from_stat, denied, num_cstr, open_anchor, open_dir, parse_pipe_link, parse_socket_link,
    parse_u32, read_prefix, vanished,
};
use crate::{Error, ScanOptions};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{CWD, RawDir, readlinkat_raw};
use rustix::io::Errno;
use sockq_model::{Comm, Owner};
use std::cmp::Reverse;
use std::collections::HashSet;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Size of the reused `getdents64` buffer (one per worker).
const DIRBUF: usize = 32 * 1024;
/// Upper bound on worker threads: the walk is syscall-bound and the target
/// machines have two cores.
const MAX_WORKERS: usize = 2;
/// A task with more fds than this is split into chunks of this size that
/// either worker can take, so one huge process does not serialise the scan.
const CHUNK: usize = 2048;

/// Socket inode -> the processes (or threads) holding it, built by [`scan`].
#[derive(Clone, Debug, Default)]
pub struct OwnerMap {
    /// All holders, grouped by inode (ascending), each group in ss's order.
    owners: Vec<Owner>,
    /// `(inode, first index in owners)`, sorted by inode.
    index: Vec<(u32, u32)>,
    /// Processes whose `fd/` or some fd link could not be read (EACCES/EPERM).
    denied: usize,
    /// `/proc` is mounted with `hidepid=2` (or 4) and the caller is not root.
    hidden: bool,
    /// Every pipe and socket fd of every process, sorted by (kind, inode,
    /// pid, fd), when the scan was asked to record them
    /// ([`scan_with_ends`]); empty otherwise.
    ends: Vec<End>,
}

/// What an fd recorded for following stdout and stderr points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndKind {
    /// `pipe:[N]`
    Pipe,
    /// `socket:[N]`
    Socket,
}

/// One fd of one process that holds a pipe or a socket, recorded by
/// [`scan_with_ends`] so that the other end of a process's stdout can be
/// found without walking `/proc` again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct End {
    /// Pipe or socket.
    pub kind: EndKind,
    /// The pipe's or socket's inode.
    pub inode: u32,
    /// The holder's pid.
    pub pid: u32,
    /// The holder's fd.
    pub fd: u32,
}

impl OwnerMap {
    /// Every holder of the socket with this inode, in the order `ss` prints
    /// them: highest pid first, within a pid highest fd first, and with `-T`
    /// the extra threads of a pid (last found first) before the main thread.
    /// Empty for inode 0 (TIME-WAIT and request sockets have no file).
    pub fn owners(&self, inode: u32) -> &[Owner] {
        if inode == 0 {
            return &[];
        }
        let Ok(k) = self.index.binary_search_by_key(&inode, |&(i, _)| i) else {
            return &[];
        };
        let start = self.index.get(k).map_or(0, |&(_, s)| s as usize);
        let end = self
            .index
            .get(k.saturating_add(1))
            .map_or(self.owners.len(), |&(_, s)| s as usize);
        self.owners.get(start..end).unwrap_or(&[])
    }

    /// How many processes were skipped, wholly or in part, because their
    /// `fd/` directory or one of its links could not be read
    /// (`EACCES`/`EPERM`: another user's process, or a process even root
    /// may not inspect, such as an init guarded by a security module).
    pub fn denied(&self) -> usize {
        self.denied
    }

    /// Whether `/proc` hides other users' processes from this caller
    /// (mounted with `hidepid=2`/`invisible` or `4`/`ptraceable`, and the
    /// caller is not root): they are missing from the walk, uncounted.
    pub fn hidden(&self) -> bool {
        self.hidden
    }

    /// Number of distinct socket inodes with at least one holder.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no socket holder was found.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Total number of (socket, holder) entries.
    pub fn holders(&self) -> usize {
        self.owners.len()
    }

    /// The inodes that have holders, ascending.
    pub fn inodes(&self) -> impl Iterator<Item = u32> + '_ {
        self.index.iter().map(|&(i, _)| i)
    }

    /// Whether pipe and socket holders were recorded ([`scan_with_ends`]).
    pub fn has_ends(&self) -> bool {
        !self.ends.is_empty()
    }

    /// Every (pid, fd) holding this pipe or socket, by pid then fd. Empty
    /// unless the map was built by [`scan_with_ends`]. Unlike
    /// [`OwnerMap::owners`], socket holders here are not limited by the
    /// wanted set, so the holder of any peer socket can be found.
    pub fn holders_of(&self, kind: EndKind, inode: u32) -> &[End] {
        let lo = self
            .ends
            .partition_point(|e| (e.kind, e.inode) < (kind, inode));
        let hi = self
            .ends
            .partition_point(|e| (e.kind, e.inode) <= (kind, inode));
        self.ends.get(lo..hi).unwrap_or(&[])
    }
}

/// Walks `/proc` and maps every socket inode to all its holders.
///
/// Vanishing processes and fds are skipped; unreadable processes are counted
/// in [`OwnerMap::denied`]. Fails only if the proc root cannot be listed.
pub fn scan(opts: &ScanOptions) -> Result<OwnerMap, Error> {
    scan_filtered(opts, None)
}

/// Like [`scan`], but when `wanted` is given only holders of those inodes are
/// stored. The walk still visits every process (see the crate docs: stopping
/// early could miss holders); this only saves memory and sorting.
pub fn scan_filtered(opts: &ScanOptions, wanted: Option<&HashSet<u32>>) -> Result<OwnerMap, Error> {
    scan_inner(opts, wanted, false)
}

/// Like [`scan_filtered`], and in the same single walk also records every
/// pipe and socket fd of every process (main threads only), so that
/// [`crate::Detailer`] can find the process at the other end of a pipe or
/// unix socket ([`OwnerMap::holders_of`]). Costs one small record per pipe
/// or socket fd; no extra system call.
pub fn scan_with_ends(
    opts: &ScanOptions,
    wanted: Option<&HashSet<u32>>,
) -> Result<OwnerMap, Error> {
    scan_inner(opts, wanted, true)
}

fn scan_inner(
    opts: &ScanOptions,
    wanted: Option<&HashSet<u32>>,
    ends: bool,
) -> Result<OwnerMap, Error> {
    let root_err = |e: Errno| Error::ProcRoot {
        path: opts.proc_root.clone(),
        source: e.into(),
    };
    let proc_fd = open_dir(CWD, opts.proc_root.as_path()).map_err(root_err)?;
    let pids = list_numeric(proc_fd.as_fd(), None).map_err(root_err)?;

    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS)
        .min(pids.len().max(1));
    let next = AtomicUsize::new(0);
    let busy = AtomicUsize::new(0);
    let queue = Mutex::new(Vec::new());
    let ctx = Ctx {
        proc_fd: proc_fd.as_fd(),
        pids: &pids,
        next: &next,
        busy: &busy,
        queue: &queue,
        threads: opts.threads,
        wanted,
        ends,
    };

    let partials: Vec<Partial> = if workers <= 1 {
        vec![ctx.run()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers).map(|_| s.spawn(|| ctx.run())).collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| Error::Worker))
                .collect::<Result<Vec<_>, Error>>()
        })?
    };
    let mut map = merge(partials, opts.threads);
    map.hidden = crate::read::pids_hidden(&opts.proc_root);
    Ok(map)
}

/// One socket fd found in one task. `task` indexes the worker's `names`.
#[derive(Clone, Copy, Debug)]
struct Hit {
    inode: u32,
    pid: u32,
    /// Position of the task within its pid: 0 for the main thread, then the
    /// other threads in `task/` order.
    seq: u32,
    fd: u32,
    task: u32,
}

/// A task that holds at least one socket.
#[derive(Clone, Copy, Debug)]
struct TaskName {
    tid: u32,
    comm: Comm,
}

/// What one worker found.
#[derive(Default)]
struct Partial {
    hits: Vec<Hit>,
    names: Vec<TaskName>,
    /// Pids denied in whole or in part (a pid may appear more than once).
    denied: Vec<u32>,
    ends: Vec<End>,
}

/// A slice of one task's fd list, for sharing a process that holds many fds
/// between the workers.
struct Chunk {
    task: Arc<TaskDirs>,
    fds: Arc<Vec<u32>>,
    start: usize,
    end: usize,
}

/// A task being scanned: its pinned directory and its open `fd/`.
struct TaskDirs {
    anchor: Arc<OwnedFd>,
    fd_dir: OwnedFd,
    pid: u32,
    tid: u32,
    seq: u32,
}

/// Shared state of one scan.
struct Ctx<'a> {
    proc_fd: BorrowedFd<'a>,
    pids: &'a [u32],
    /// Next index into `pids`.
    next: &'a AtomicUsize,
    /// Workers that took a pid and may still queue chunks.
    busy: &'a AtomicUsize,
    queue: &'a Mutex<Vec<Chunk>>,
    threads: bool,
    wanted: Option<&'a HashSet<u32>>,
    /// Record pipe and socket fds for [`OwnerMap::holders_of`].
    ends: bool,
}

/// Per-worker buffers and results.
struct Worker {
    out: Partial,
    dirbuf: Vec<MaybeUninit<u8>>,
    tids: Vec<u32>,
    fds: Vec<u32>,
}

impl Ctx<'_> {
    /// A worker: takes queued chunks first, then pids, until both are gone.
    fn run(&self) -> Partial {
        let mut w = Worker {
            out: Partial::default(),
            dirbuf: vec![MaybeUninit::<u8>::uninit(); DIRBUF],
            tids: Vec::new(),
            fds: Vec::new(),
        };
        loop {
            if let Some(c) = self.pop() {
                let fds = c.fds.get(c.start..c.end).unwrap_or_default();
                self.scan_fds(&c.task, fds, &mut w.out);
                continue;
            }
            // `busy` goes up before a pid is taken and down only after its
            // chunks are queued, so seeing it at 0 and then an empty queue
            // means no more work can appear.
            self.busy.fetch_add(1, Ordering::SeqCst);
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            if let Some(&pid) = self.pids.get(i) {
                self.scan_pid(pid, &mut w);
                self.busy.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            self.busy.fetch_sub(1, Ordering::SeqCst);
            if self.busy.load(Ordering::SeqCst) == 0 && self.queue_is_empty() {
                break;
            }
            std::thread::yield_now();
        }
        w.out
    }

    fn pop(&self) -> Option<Chunk> {
        self.queue.lock().ok()?.pop()
    }

    fn queue_is_empty(&self) -> bool {
        self.queue.lock().map_or(true, |q| q.is_empty())
    }

    fn scan_pid(&self, pid: u32, w: &mut Worker) {
        let mut nb = [0u8; 12];
        // The pid's directory fd pins this process: everything below is read
        // through it, so a reused pid cannot be mixed in.
        let Ok(anchor) = open_anchor(self.proc_fd, num_cstr(pid, &mut nb)) else {
            return;
        };
        let anchor = Arc::new(anchor);
        if let Err(e) = self.scan_task(&anchor, pid, pid, 0, w) {
            if denied(e) {
                w.out.denied.push(pid);
            }
            return;
        }
        if !self.threads {
            return;
        }
        let Ok(task_dir) = open_dir(&*anchor, c"task") else {
            return;
        };
        let mut tids = std::mem::take(&mut w.tids);
        tids.clear();
        // A listing cut short is a race; scan the threads we saw.
        let _ = list_numeric_into(task_dir.as_fd(), &mut w.dirbuf, &mut tids);
        let mut seq = 0u32;
        for &tid in tids.iter() {
            if tid == pid {
                continue;
            }
            seq = seq.saturating_add(1);
            let Ok(t) = open_anchor(&task_dir, num_cstr(tid, &mut nb)) else {
                continue;
            };
            // Errors here are races (thread exited) or the same denial as
            // the main thread, which was already counted.
            let _ = self.scan_task(&Arc::new(t), pid, tid, seq, w);
        }
        w.tids = tids;
    }

    /// Lists one task's `fd/` and scans it, sharing big lists with the other
    /// worker. Errors only when `fd/` cannot be opened.
    fn scan_task(
        &self,
        anchor: &Arc<OwnedFd>,
        pid: u32,
        tid: u32,
        seq: u32,
        w: &mut Worker,
    ) -> Result<(), Errno> {
        let fd_dir = open_dir(&**anchor, c"fd")?;
        w.fds.clear();
        // An error mid-listing is a race (the process exited): keep what we
        // have; the name check in scan_fds drops it if the process is gone.
        let _ = list_numeric_into(fd_dir.as_fd(), &mut w.dirbuf, &mut w.fds);
        let task = TaskDirs {
            anchor: Arc::clone(anchor),
            fd_dir,
            pid,
            tid,
            seq,
        };
        if w.fds.len() <= CHUNK {
            self.scan_fds(&task, &w.fds, &mut w.out);
            return Ok(());
        }
        let task = Arc::new(task);
        let fds = Arc::new(std::mem::take(&mut w.fds));
        if let Ok(mut q) = self.queue.lock() {
            let mut start = CHUNK;
            while start < fds.len() {
                let end = start.saturating_add(CHUNK).min(fds.len());
                q.push(Chunk {
                    task: Arc::clone(&task),
                    fds: Arc::clone(&fds),
                    start,
                    end,
                });
                start = end;
            }
            drop(q);
            self.scan_fds(&task, fds.get(..CHUNK).unwrap_or_default(), &mut w.out);
        } else {
            self.scan_fds(&task, &fds, &mut w.out);
        }
        Ok(())
    }

    /// The hot loop: one `readlinkat` per fd into a stack buffer.
    fn scan_fds(&self, task: &TaskDirs, fds: &[u32], out: &mut Partial) {
        let first = out.hits.len();
        let index = u32::try_from(out.names.len()).unwrap_or(u32::MAX);
        // "socket:[4294967295]" is 19 bytes; longer targets are not sockets.
        let mut link = [0u8; 32];
        let mut nb = [0u8; 12];
        let mut refused = false;
        // Threads share the fd table of their process almost always; the
        // main thread's view is enough to find the other end of a pipe.
        let ends = self.ends && task.seq == 0;
        for &fd in fds {
            let n = match readlinkat_raw(task.fd_dir.as_fd(), num_cstr(fd, &mut nb), &mut link[..])
            {
                Ok(n) => n,
                // Root too gets EACCES on some processes' links (pid 1 under
                // a security module): their sockets lose an owner, so count it.
                Err(e) if denied(e) => {
                    refused = true;
                    continue;
                }
                Err(_) => continue,
            };
            let target = link.get(..n).unwrap_or_default();
            let Some(inode) = parse_socket_link(target) else {
                if ends && let Some(inode) = parse_pipe_link(target) {
                    out.ends.push(End {
                        kind: EndKind::Pipe,
                        inode,
                        pid: task.pid,
                        fd,
                    });
                }
                continue;
            };
            if ends {
                out.ends.push(End {
                    kind: EndKind::Socket,
                    inode,
                    pid: task.pid,
                    fd,
                });
            }
            if let Some(w) = self.wanted
                && !w.contains(&inode)
            {
                continue;
            }
            out.hits.push(Hit {
                inode,
                pid: task.pid,
                seq: task.seq,
                fd,
                task: index,
            });
        }
        if refused {
            out.denied.push(task.pid);
        }
        if out.hits.len() == first {
            return;
        }
        // The name is read after the fds, through the same pinned dirfd: if
        // the task is gone now, its fds are closed too, so drop its entries.
        let mut stat = [0u8; 512];
        let comm = match read_prefix(&*task.anchor, c"stat", &mut stat) {
            Ok(n) => stat
                .get(..n)
                .and_then(comm_from_stat)
                .map(Comm::new)
                .unwrap_or_default(),
            Err(e) if vanished(e) => {
                out.hits.truncate(first);
                return;
            }
            Err(_) => Comm::default(),
        };
        out.names.push(TaskName {
            tid: task.tid,
            comm,
        });
    }
}

/// Lists the numeric entries of a directory (pids in `/proc`, tids in
/// `task/`), in directory order.
fn list_numeric(dir: BorrowedFd<'_>, cap: Option<usize>) -> Result<Vec<u32>, Errno> {
    let mut buf = vec![MaybeUninit::<u8>::uninit(); DIRBUF];
    let mut out = Vec::with_capacity(cap.unwrap_or(512));
    list_numeric_into(dir, &mut buf, &mut out)?;
    Ok(out)
}

fn list_numeric_into(
    dir: BorrowedFd<'_>,
    buf: &mut [MaybeUninit<u8>],
    out: &mut Vec<u32>,
) -> Result<(), Errno> {
    let mut it = RawDir::new(dir, buf);
    while let Some(ent) = it.next() {
        let ent = ent?;
        if let Some(n) = parse_u32(ent.file_name().to_bytes()) {
            out.push(n);
        }
    }
    Ok(())
}

/// Joins the workers' results and puts each inode's holders in ss's order.
fn merge(partials: Vec<Partial>, threads: bool) -> OwnerMap {
    let total = partials.iter().map(|p| p.hits.len()).sum();
    let mut hits: Vec<Hit> = Vec::with_capacity(total);
    let mut names: Vec<TaskName> = Vec::new();
    let mut denied: Vec<u32> = Vec::new();
    let mut ends: Vec<End> = Vec::new();
    for mut p in partials {
        ends.append(&mut p.ends);
        let base = u32::try_from(names.len()).unwrap_or(u32::MAX);
        names.extend_from_slice(&p.names);
        hits.extend(p.hits.into_iter().map(|mut h| {
            h.task = h.task.saturating_add(base);
            h
        }));
        denied.extend_from_slice(&p.denied);
    }
    denied.sort_unstable();
    denied.dedup();
    // ss prepends each entry it finds while walking pids, tasks and fds in
    // ascending order, so it prints them in reverse scan order.
    hits.sort_unstable_by_key(|h| (h.inode, Reverse(h.pid), Reverse(h.seq), Reverse(h.fd)));

    let mut owners = Vec::with_capacity(hits.len());
    let mut index: Vec<(u32, u32)> = Vec::new();
    for h in &hits {
        let Some(name) = names.get(h.task as usize) else {
            continue;
        };
        if index.last().is_none_or(|&(i, _)| i != h.inode) {
            index.push((h.inode, u32::try_from(owners.len()).unwrap_or(u32::MAX)));
        }
        owners.push(Owner {
            comm: name.comm,
            pid: h.pid,
            tid: threads.then_some(name.tid),
            fd: h.fd,
        });
    }
    ends.sort_unstable();
    ends.dedup();
    OwnerMap {
        owners,
        index,
        denied: denied.len(),
        hidden: false,
        ends,
    }
}
