//! `--metrics` and `--metrics-file`: the selected sockets as Prometheus text
//! exposition, for node_exporter's textfile collector (docs/metrics.md).
//!
//! The number of series grows with listeners and ports, never with
//! connections: listening sockets are listed one by one (they are the
//! inventory), connected sockets are only counted, by namespace, protocol,
//! state, direction, service port and process names.
//!
//! Whether a connection is `in` (accepted on a local listener) depends on
//! every listener of its namespace and protocol, and sockets arrive in dump
//! order, so [`Collector`] keeps a compact record per connection (about 40
//! bytes) and classifies them all in [`Collector::finish`]. The process
//! names are attached there too, so the `/proc` scan may run while the
//! kernel dumps.

mod encode;
mod sink;

pub use encode::encode;
pub use sink::MetricsSink;

use sockq_model::{Endpoint, Owner, Socket, State, Table};
use sockq_proc::OwnerMap;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

/// Whether a connection was accepted on a local listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Its local port is one a listener of the same namespace and protocol
    /// listens on: the service port is the local port.
    In,
    /// Anything else: the service port is the remote port.
    Out,
}

impl Direction {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// Interned process-name sets: the `comm` label of each socket.
#[derive(Default)]
struct Comms {
    ids: HashMap<Vec<u8>, u32>,
    names: Vec<String>,
    /// Sockets held by one process: its pid's id, without building a key
    /// (one lookup per connection at 100,000 connections).
    by_pid: HashMap<u32, u32>,
}

impl Comms {
    /// The id of the sorted, distinct names of `owners`, joined by `,`
    /// (systemd and the daemon it passed a socket to: `sshd,systemd`).
    fn intern(&mut self, owners: &[Owner]) -> u32 {
        if let [one] = owners {
            if let Some(&id) = self.by_pid.get(&one.pid) {
                return id;
            }
            let id = self.intern_names(owners);
            self.by_pid.insert(one.pid, id);
            return id;
        }
        self.intern_names(owners)
    }

    fn intern_names(&mut self, owners: &[Owner]) -> u32 {
        let mut raw: Vec<&[u8]> = owners.iter().map(|o| o.comm.as_bytes()).collect();
        raw.sort_unstable();
        raw.dedup();
        let key = raw.join(&b","[..]);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(label_text(&key));
        self.ids.insert(key, id);
        id
    }
}

/// A system string as a label value: sockq's one escaping of names taken
/// from the system (control characters, bidi overrides and bytes that are
/// not UTF-8 become visible escapes), so label values are valid UTF-8 and
/// read as in the table output. The exposition format's own escaping of
/// `\`, `"` and newlines is applied on top by the encoder.
pub fn label_text(raw: &[u8]) -> String {
    crate::sanitize::escaped(raw)
}

/// How a record's process names are found.
#[derive(Clone, Copy, Debug)]
enum CommRef {
    /// Known when the socket arrived.
    Id(u32),
    /// Looked up by inode in the owner map given to `finish`.
    Inode(u32),
}

/// A listening socket, kept whole (they are few).
struct ListenRec {
    ns: u32,
    table: Table,
    address: String,
    port: Option<u16>,
    uid: Option<u32>,
    comm: CommRef,
    /// The lowest pid holding it, when the owners came with the socket.
    pid: Option<u32>,
    /// LISTEN state: queue length and limit are meaningful.
    listen: bool,
    recv_q: u32,
    send_q: u32,
}

/// A connected socket, compact: it is classified in `finish`.
struct ConnRec {
    ns: u32,
    table: Table,
    state: State,
    lport: u16,
    rport: u16,
    comm: CommRef,
    recv_q: u32,
    send_q: u32,
    /// tcpi_total_retrans, with `-i`.
    retrans: Option<u32>,
}

/// Who a process is, for the `unit` and `container` labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Who {
    /// Its systemd unit (`nginx.service`).
    pub unit: Option<String>,
    /// Its container (`podman:web`).
    pub container: Option<String>,
}

/// What the run adds to the self-metrics.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// Wall time of the collection, from the start of the run to encoding.
    pub duration: Duration,
    /// Processes whose fds could not be read (their sockets have no comm).
    pub unreadable_processes: usize,
    /// Namespaces that could not be dumped (`--all-netns`).
    pub failed_namespaces: usize,
}

/// Aggregates the selected sockets of a run.
pub struct Collector {
    namespaces: Vec<String>,
    cur: u32,
    listeners: Vec<ListenRec>,
    conns: Vec<ConnRec>,
    listen_ports: HashSet<(u32, Table, u16)>,
    comms: Comms,
    seen: BTreeMap<(u32, Table), u64>,
    /// Whether any socket carried tcp_info (`-i`): the retransmit sums are
    /// emitted only then.
    have_info: bool,
}

impl Default for Collector {
    fn default() -> Self {
        Collector::new()
    }
}

/// Tables whose unconnected sockets with a bound port are servers (ss `-l`
/// lists UNCONN sockets as listening).
fn datagram(t: Table) -> bool {
    matches!(t, Table::Udp | Table::UdpLite | Table::Raw)
}

/// The address label: ss's `-n` text without brackets; the dual-stack IPv6
/// wildcard is `*`, as ss prints it.
fn address_text(addr: IpAddr, v6only: Option<bool>) -> String {
    match addr {
        IpAddr::V6(a) if a.is_unspecified() && v6only != Some(true) => "*".into(),
        a => a.to_string(),
    }
}

impl Collector {
    /// An empty collector; sockets belong to the namespace labelled `""`
    /// until [`Collector::begin_netns`].
    pub fn new() -> Collector {
        Collector {
            namespaces: vec![String::new()],
            cur: 0,
            listeners: Vec::new(),
            conns: Vec::new(),
            listen_ports: HashSet::new(),
            comms: Comms::default(),
            seen: BTreeMap::new(),
            have_info: false,
        }
    }

    /// The following sockets belong to the namespace `label` (as
    /// `--all-netns` names it).
    pub fn begin_netns(&mut self, label: impl AsRef<[u8]>) {
        // Namespace names come from the system (/var/run/netns) or -N,
        // maybe not UTF-8: escaped from their bytes.
        let label = label_text(label.as_ref());
        if let Some(i) = self.namespaces.iter().position(|n| *n == label) {
            self.cur = i as u32;
            return;
        }
        self.namespaces.push(label);
        self.cur = (self.namespaces.len() - 1) as u32;
    }

    /// A port some socket of `table` listens on in the current namespace,
    /// from a listener-only dump made when the selection leaves listeners
    /// out: connections on it count as `in`.
    pub fn note_listener_port(&mut self, table: Table, port: u16) {
        self.listen_ports.insert((self.cur, table, port));
    }

    /// Adds one selected socket. `owners`: its holders when the process scan
    /// already ran, `None` to look them up in the map given to `finish`.
    pub fn socket(&mut self, s: &Socket, owners: Option<&[Owner]>) {
        *self.seen.entry((self.cur, s.table)).or_insert(0) += 1;
        let comm = match owners {
            Some(o) => CommRef::Id(self.comms.intern(o)),
            None => CommRef::Inode(s.inode),
        };
        let ns = self.cur;
        match &s.local {
            Endpoint::Inet { addr, port } => {
                let listening = s.state == State::Listen
                    || (s.state == State::Close && datagram(s.table) && *port != 0);
                if listening {
                    self.listen_ports.insert((ns, s.table, *port));
                    self.listeners.push(ListenRec {
                        ns,
                        table: s.table,
                        address: address_text(*addr, s.v6only),
                        port: Some(*port),
                        uid: s.uid,
                        comm,
                        pid: owners.and_then(|o| o.iter().map(|o| o.pid).min()),
                        listen: s.state == State::Listen,
                        recv_q: s.recv_q,
                        send_q: s.send_q,
                    });
                    return;
                }
                if s.state == State::Close {
                    // Unbound or unconnected: neither a server nor a connection.
                    return;
                }
                let rport = s.peer.inet().map_or(0, |(_, p)| p);
                let retrans = s.tcp_info.as_ref().map(|i| i.total_retrans);
                self.have_info |= retrans.is_some();
                self.conns.push(ConnRec {
                    ns,
                    table: s.table,
                    state: s.state,
                    lport: *port,
                    rport,
                    comm,
                    recv_q: s.recv_q,
                    send_q: s.send_q,
                    retrans,
                });
            }
            Endpoint::Unix { name: Some(n), .. } if s.state == State::Listen => {
                self.listeners.push(ListenRec {
                    ns,
                    table: s.table,
                    address: label_text(&n.display_bytes()),
                    port: None,
                    uid: s.uid,
                    comm,
                    pid: owners.and_then(|o| o.iter().map(|o| o.pid).min()),
                    listen: true,
                    recv_q: s.recv_q,
                    send_q: s.send_q,
                });
            }
            // Other sockets are counted in sockq_collection_sockets only.
            _ => {}
        }
    }

    /// Sockets added so far.
    pub fn len(&self) -> u64 {
        self.seen.values().sum()
    }

    /// Whether no socket was added.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Classifies the connections and sums everything into series.
    /// `owners`: the process map for sockets added without owners.
    /// `identity`: the unit and container of a pid; with it, listeners get
    /// `unit` and `container` labels (of their lowest-pid holder).
    pub fn finish(
        mut self,
        owners: Option<&OwnerMap>,
        run: &RunInfo,
        mut identity: Option<&mut dyn FnMut(u32) -> Who>,
    ) -> Snapshot {
        let with_identity = identity.is_some();
        let users = sockq_proc::UserNames::load();
        let resolve = |c: CommRef, comms: &mut Comms| match c {
            CommRef::Id(id) => id,
            CommRef::Inode(inode) => comms.intern(owners.map_or(&[][..], |m| m.owners(inode))),
        };
        let mut listening: BTreeMap<ListenKey, ListenVal> = BTreeMap::new();
        for l in std::mem::take(&mut self.listeners) {
            let comm = resolve(l.comm, &mut self.comms);
            let pid = match l.comm {
                CommRef::Id(_) => l.pid,
                CommRef::Inode(inode) => {
                    owners.and_then(|m| m.owners(inode).iter().map(|o| o.pid).min())
                }
            };
            let who = match (&mut identity, pid) {
                (Some(f), Some(pid)) => f(pid),
                _ => Who::default(),
            };
            let user = match l.uid {
                Some(u) => users.name(u).map_or_else(|| u.to_string(), label_text_str),
                None => String::new(),
            };
            let v = listening
                .entry(ListenKey {
                    ns: l.ns,
                    proto: l.table.netid(),
                    port: l.port,
                    address: l.address,
                    comm,
                    user,
                    unit: who.unit.as_deref().map_or_else(String::new, label_text_str),
                    container: who
                        .container
                        .as_deref()
                        .map_or_else(String::new, label_text_str),
                })
                .or_default();
            v.sockets += 1;
            if l.listen {
                v.queued = Some(v.queued.unwrap_or(0) + u64::from(l.recv_q));
                v.limit = Some(v.limit.unwrap_or(0) + u64::from(l.send_q));
            }
        }
        let mut conns: BTreeMap<ConnKey, u64> = BTreeMap::new();
        let mut queues: BTreeMap<PortKey, QueueVal> = BTreeMap::new();
        for c in std::mem::take(&mut self.conns) {
            let comm = resolve(c.comm, &mut self.comms);
            let (direction, port) = if self.listen_ports.contains(&(c.ns, c.table, c.lport)) {
                (Direction::In, c.lport)
            } else {
                (Direction::Out, c.rport)
            };
            let pk = PortKey {
                ns: c.ns,
                proto: c.table.netid(),
                direction,
                port,
                comm,
            };
            *conns
                .entry(ConnKey {
                    port: pk.clone(),
                    state: c.state,
                })
                .or_insert(0) += 1;
            let q = queues.entry(pk).or_default();
            q.recv += u64::from(c.recv_q);
            q.send += u64::from(c.send_q);
            q.retrans += u64::from(c.retrans.unwrap_or(0));
        }
        Snapshot {
            namespaces: self.namespaces,
            comms: self.comms.names,
            listening,
            conns,
            queues,
            seen: self.seen,
            have_info: self.have_info,
            with_identity,
            run: run.clone(),
        }
    }
}

fn label_text_str(s: &str) -> String {
    label_text(s.as_bytes())
}

/// Labels of one `sockq_listening` series (and the queue gauges).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ListenKey {
    ns: u32,
    proto: &'static str,
    port: Option<u16>,
    address: String,
    comm: u32,
    user: String,
    unit: String,
    container: String,
}

#[derive(Clone, Debug, Default)]
struct ListenVal {
    sockets: u64,
    /// Accept-queue length (LISTEN sockets only).
    queued: Option<u64>,
    /// Backlog (LISTEN sockets only).
    limit: Option<u64>,
}

/// Labels shared by the per-port sums.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PortKey {
    ns: u32,
    proto: &'static str,
    direction: Direction,
    port: u16,
    comm: u32,
}

/// Labels of one `sockq_connections` series.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ConnKey {
    port: PortKey,
    state: State,
}

#[derive(Clone, Debug, Default)]
struct QueueVal {
    recv: u64,
    send: u64,
    retrans: u64,
}

/// Every series of one run, ready to encode.
pub struct Snapshot {
    namespaces: Vec<String>,
    comms: Vec<String>,
    listening: BTreeMap<ListenKey, ListenVal>,
    conns: BTreeMap<ConnKey, u64>,
    queues: BTreeMap<PortKey, QueueVal>,
    seen: BTreeMap<(u32, Table), u64>,
    have_info: bool,
    /// Whether listeners carry `unit` and `container` labels.
    with_identity: bool,
    run: RunInfo,
}

impl Snapshot {
    /// The same series with other self-metrics (the final duration).
    pub fn with_run(mut self, run: RunInfo) -> Snapshot {
        self.run = run;
        self
    }

    fn ns(&self, i: u32) -> &str {
        self.namespaces.get(i as usize).map_or("", String::as_str)
    }

    fn comm(&self, i: u32) -> &str {
        self.comms.get(i as usize).map_or("", String::as_str)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
