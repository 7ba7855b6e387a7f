//! The socket population: listeners held by the harness, ESTABLISHED pairs
//! held by worker processes (one process may hold only so many fds).

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Context};
use crate::netns::{self, Netns};

/// Listening sockets: a few wildcard and loopback IPv4 services, two IPv6.
const LISTENERS: &[(&str, u16)] = &[
    ("0.0.0.0", 80),
    ("0.0.0.0", 443),
    ("127.0.0.1", 5432),
    ("127.0.0.1", 6379),
    ("0.0.0.0", 8080),
    ("127.0.0.1", 3306),
    ("0.0.0.0", 9090),
    ("127.0.0.1", 11211),
    ("::1", 443),
    ("::1", 8443),
];

/// The port the kernel-filter command (`sport = :P`) selects.
pub const FILTER_PORT: u16 = 443;
/// UDP sockets held by the first worker.
const UDP_SOCKETS: usize = 8;

/// Sockets in the namespace and the processes that hold them; dropping it
/// kills the workers (their sockets die with them).
pub struct Fleet {
    listeners: Vec<TcpListener>,
    workers: Vec<Worker>,
    /// Sockets created: listeners + 2 per pair + UDP.
    pub sockets: usize,
    /// TCP sockets among them.
    pub tcp_sockets: usize,
    /// Time it took to create them.
    pub build_time: Duration,
}

struct Worker {
    child: Child,
    _stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Kill all first, then reap: exits (and socket teardown) overlap.
        for w in &mut self.workers {
            let _ = w.child.kill();
        }
        for w in &mut self.workers {
            let _ = w.child.wait();
        }
    }
}

/// The most pairs one worker may hold under its fd limit.
pub fn max_pairs_per_worker() -> usize {
    // SAFETY: getrlimit writes into the struct we pass.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    let hard = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_max as usize
    } else {
        1024
    };
    hard.saturating_sub(64) / 2
}

impl Fleet {
    /// Worker processes holding the pairs.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Fills `ns` with about `target` sockets, `pairs_per_worker` pairs a process.
    pub fn build(ns: &Netns, target: usize, pairs_per_worker: usize) -> Result<Self, BenchError> {
        let start = Instant::now();
        ns.sysctl("net/ipv4/ip_local_port_range", "1024 65535")?;
        let listeners = ns.run_inside(|| {
            let mut out = Vec::new();
            for &(ip, port) in LISTENERS {
                let addr = SocketAddr::new(ip.parse().map_err(|_| bad_addr(ip))?, port);
                match TcpListener::bind(addr) {
                    Ok(l) => out.push(l),
                    // No IPv6 in this kernel: run with IPv4 only.
                    Err(e) if addr.is_ipv6() => eprintln!("skipping listener {addr}: {e}"),
                    Err(e) => return Err(e).ctx(|| format!("binding {addr}")),
                }
            }
            Ok(out)
        })?;
        let udp = UDP_SOCKETS.min(target / 100);
        let pairs = target.saturating_sub(listeners.len() + udp) / 2;
        let per = pairs_per_worker.max(1);
        let nworkers = pairs.div_ceil(per).max(1);
        let mut fleet = Fleet {
            sockets: listeners.len() + 2 * pairs + udp,
            tcp_sockets: listeners.len() + 2 * pairs,
            listeners,
            workers: Vec::with_capacity(nworkers),
            build_time: Duration::ZERO,
        };
        let fds: Vec<RawFd> = fleet.listeners.iter().map(|l| l.as_raw_fd()).collect();
        let fd_list = fds
            .iter()
            .map(|fd| fd.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let exe = std::env::current_exe().ctx(|| "locating the bench binary".to_owned())?;
        let mut first = 0;
        for index in 0..nworkers {
            netns::check_interrupted()?;
            // Spread the remainder over the first workers.
            let mine = pairs / nworkers + usize::from(index < pairs % nworkers);
            let mut cmd = Command::new(&exe);
            cmd.args(["--worker", "--listen-fds", &fd_list])
                .args(["--pairs", &mine.to_string(), "--first", &first.to_string()])
                .args(["--udp", &(if index == 0 { udp } else { 0 }).to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                // Own process group: Ctrl-C reaches us, and we tear down in order.
                .process_group(0);
            let ns_fd = ns.fd();
            let inherit = fds.clone();
            // SAFETY: between fork and exec only async-signal-safe calls run
            // (setns, fcntl, prctl); `inherit` was allocated before the fork.
            unsafe {
                cmd.pre_exec(move || {
                    netns::enter(ns_fd)?;
                    for &fd in &inherit {
                        if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let mut child = cmd.spawn().ctx(|| "spawning a worker".to_owned())?;
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BenchError::Worker {
                    index,
                    reason: "no pipes".into(),
                });
            };
            fleet.workers.push(Worker {
                child,
                _stdin: stdin,
                stdout: BufReader::new(stdout),
            });
            let mut line = String::new();
            if let Some(w) = fleet.workers.last_mut() {
                w.stdout
                    .read_line(&mut line)
                    .ctx(|| format!("reading worker {index}"))?;
            }
            let held: usize = line
                .strip_prefix("ready ")
                .and_then(|n| n.trim().parse().ok())
                .ok_or_else(|| BenchError::Worker {
                    index,
                    reason: format!("expected `ready N`, got {:?}", line.trim()),
                })?;
            first += mine;
            eprintln!(
                "  worker {}/{nworkers} ready: {held} sockets ({:.1} s)",
                index + 1,
                start.elapsed().as_secs_f64()
            );
        }
        fleet.build_time = start.elapsed();
        Ok(fleet)
    }
}

fn bad_addr(ip: &str) -> BenchError {
    BenchError::Usage(format!("bad address {ip}"))
}

/// What one worker process builds (its `--worker` arguments).
pub struct WorkerSpec {
    /// Inherited listening sockets to connect to and accept from.
    pub listen_fds: Vec<RawFd>,
    /// ESTABLISHED pairs to create.
    pub pairs: usize,
    /// Global index of the first pair: keeps the mix the same however split.
    pub first: usize,
    /// UDP sockets to bind.
    pub udp: usize,
}

/// splitmix64: a cheap, deterministic spread of pair indices.
fn mix(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn set_keepalive(s: &TcpStream) {
    let on: libc::c_int = 1;
    // SAFETY: the option value points at a live c_int of the given size.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn raise_fd_limit() {
    // SAFETY: get/setrlimit read and write the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// `--worker` mode: builds the sockets, prints `ready N`, holds them until
/// stdin closes.
pub fn worker_main(spec: &WorkerSpec) -> Result<(), BenchError> {
    raise_fd_limit();
    let mut listeners = Vec::with_capacity(spec.listen_fds.len());
    for &fd in &spec.listen_fds {
        // SAFETY: the harness passed these fds to us open; we own them now.
        // Checked with F_GETFD first so a wrong number fails cleanly.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(BenchError::Usage(format!("fd {fd} is not open")));
        }
        listeners.push(unsafe { TcpListener::from_raw_fd(fd) });
    }
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<Vec<_>, _>>()
        .ctx(|| "listener address".to_owned())?;
    let v4: Vec<usize> = (0..addrs.len()).filter(|&i| addrs[i].is_ipv4()).collect();
    let v6: Vec<usize> = (0..addrs.len()).filter(|&i| addrs[i].is_ipv6()).collect();
    if v4.is_empty() {
        return Err(BenchError::Usage("no IPv4 listener".into()));
    }
    let payload = [b'x'; 256];
    let mut held: Vec<TcpStream> = Vec::with_capacity(2 * spec.pairs);
    for g in spec.first..spec.first + spec.pairs {
        let h = mix(g);
        let pick = |set: &[usize]| set.get((h >> 4) as usize % set.len().max(1)).copied();
        // One pair in 16 goes over IPv6.
        let idx = if h % 16 == 15 && !v6.is_empty() {
            pick(&v6)
        } else {
            pick(&v4)
        };
        let (Some(idx), Some(listener)) = (idx, idx.and_then(|i| listeners.get(i))) else {
            continue;
        };
        let Some(mut dest) = addrs.get(idx).copied() else {
            continue;
        };
        if dest.ip().is_unspecified() {
            // Wildcard listeners are reached on several loopback addresses,
            // which also multiplies the free 4-tuples.
            dest.set_ip(if dest.is_ipv4() {
                Ipv4Addr::new(127, 0, 0, 1 + ((h >> 8) % 4) as u8).into()
            } else {
                Ipv6Addr::LOCALHOST.into()
            });
        }
        let mut client = TcpStream::connect(dest).ctx(|| format!("connect {dest} (pair {g})"))?;
        let (mut server, _) = listener.accept().ctx(|| format!("accept on {dest}"))?;
        // Receive queues with data that is never read, both directions.
        if (h >> 12).is_multiple_of(8) {
            let n = 1 + (h >> 32) as usize % 200;
            client
                .write_all(payload.get(..n).unwrap_or(&payload))
                .ctx(|| "client write".to_owned())?;
        }
        if (h >> 16).is_multiple_of(16) {
            let n = 1 + (h >> 40) as usize % 100;
            server
                .write_all(payload.get(..n).unwrap_or(&payload))
                .ctx(|| "server write".to_owned())?;
        }
        // Keepalive timers for -o; half-closed pairs (FIN-WAIT-2 / CLOSE-WAIT).
        if (h >> 20).is_multiple_of(4) {
            set_keepalive(&client);
        }
        if (h >> 24).is_multiple_of(64) {
            client
                .shutdown(Shutdown::Write)
                .ctx(|| "shutdown".to_owned())?;
        }
        held.push(client);
        held.push(server);
    }
    let mut udp = Vec::with_capacity(spec.udp);
    for i in 0..spec.udp {
        let addr: SocketAddr = if i % 4 == 3 && !v6.is_empty() {
            (Ipv6Addr::LOCALHOST, 0).into()
        } else {
            (Ipv4Addr::LOCALHOST, 0).into()
        };
        udp.push(UdpSocket::bind(addr).ctx(|| format!("udp bind {addr}"))?);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {}", held.len() + udp.len()).ctx(|| "stdout".to_owned())?;
    out.flush().ctx(|| "stdout".to_owned())?;
    drop(out);
    // Hold everything until the harness closes our stdin (or kills us).
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    drop(listeners);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_spreads_over_listeners() {
        let mut counts = [0usize; 8];
        for g in 0..8000 {
            counts[(mix(g) >> 4) as usize % 8] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
