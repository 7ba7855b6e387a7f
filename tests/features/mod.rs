//! Features the other files do not run end to end, each on real sockets in a private
//! namespace: the sockq-only predicates against real processes, `-K`'s selection (TCP with
//! `-a`, UDP, what it refuses), `--sort` by every key, `--all-netns` usage errors, the
//! selection flags (`-M`, `--udplite`, `-S`, `-d`, `-Q`), the states FIN-WAIT-1, LAST-ACK, SYN-RECV and CLOSING,
//! and the runtime paths `--explain`, `-D -`, `COLUMNS`, long-option abbreviations and options
//! after filter words.
//!
//! Shared helpers and the predicate scene are here; the tests are in `predicates`, `kill_sort`
//! (-K selection, --sort, --all-netns), `flags` (selection flags, states, runtime paths) and
//! `json` (JSON against the table, -E --json-lines).

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{
    Netns, Row, SETTLE_TIMEOUT, TempFile, parse_table, root_or_skip, run, run_ok, show_output,
    sockq, stdout_text, subject_is_ss, tcp_listener, tcp_pair, v4, words,
};

mod flags;
mod json;
mod kill_sort;
mod predicates;

/// `local peer` of each row, sorted: which sockets an output lists.
fn endpoints(out: &Output) -> Vec<String> {
    let mut v: Vec<String> = parse_table(&stdout_text(out))
        .rows
        .iter()
        .map(|r| format!("{} {}", r.local, r.peer))
        .collect();
    v.sort();
    v
}

/// ss 7.1 (`SOCKQ_SS71`, else `target/oracle/ss`); missing under `CI=true` fails.
fn ss71() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("SOCKQ_SS71")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oracle/ss")
        });
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "ss 7.1 missing at {}, and CI=true forbids skipping",
        path.display()
    );
    println!("skipping the ss 7.1 part: no {}", path.display());
    None
}

/// `local peer` of a connected socket, as sockq prints it numerically.
fn pair_key(s: &TcpStream) -> String {
    let l = s.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let p = s.peer_addr().unwrap_or_else(|e| panic!("{e}"));
    format!("{l} {p}")
}

fn listen_key(l: &TcpListener) -> String {
    format!(
        "{} 0.0.0.0:*",
        l.local_addr().unwrap_or_else(|e| panic!("{e}"))
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A child process killed and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes to `s` (non-blocking) until the kernel takes no more: the peer's receive buffer and
/// then `s`'s send buffer are full, so `s` keeps a Send-Q the peer never reads.
fn flood(s: &mut TcpStream) {
    s.set_nonblocking(true).unwrap_or_else(|e| panic!("{e}"));
    let chunk = [0x5au8; 65536];
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut blocked = 0;
    while blocked < 20 {
        match s.write(&chunk) {
            Ok(_) => blocked = 0,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                blocked += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("flood: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the flood never filled the buffers"
        );
    }
}

/// The scene of the predicate tests, in its own namespace.
struct Scene {
    ns: Netns,
    la: TcpListener,
    a: (TcpStream, TcpStream),
    lb: TcpListener,
    b: (TcpStream, TcpStream),
    udp_rx: UdpSocket,
    udp_tx: UdpSocket,
    nobody: Reaped,
}

const NOBODY_PORT: u16 = 7103;
const UDP_PORT: u16 = 7104;

impl Scene {
    /// * 127.0.0.1:7101, a listener, with pair A whose server side holds 100 unread bytes;
    /// * 127.0.0.1:7102, a listener, with pair B whose client flooded the server: the server's
    ///   Recv-Q and the client's Send-Q are full;
    /// * 127.0.0.1:7103, a listener of a `python3` process running as nobody (uid 65534);
    /// * UDP 127.0.0.1:7104 (bound) and an autobound UDP sender that sent it one datagram.
    fn build() -> Scene {
        let ns = Netns::new();
        let script = format!(
            "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',{NOBODY_PORT}))\n\
             s.listen()\ntime.sleep(300)"
        );
        let nobody = Reaped(
            ns.exec(
                "setpriv",
                [
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "/usr/bin/python3",
                    "-c",
                    &script,
                ],
            )
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 as nobody: {e}")),
        );
        let (la, a, lb, mut b, udp_rx, udp_tx) = ns.enter(|| {
            let la = tcp_listener(v4(127, 0, 0, 1, 7101), 128, None);
            let (mut ac, as_) = tcp_pair(&la, v4(127, 0, 0, 1, 7101), None);
            ac.write_all(&[1u8; 100]).unwrap_or_else(|e| panic!("{e}"));
            let lb = tcp_listener(v4(127, 0, 0, 1, 7102), 128, None);
            let b = tcp_pair(&lb, v4(127, 0, 0, 1, 7102), None);
            let rx = UdpSocket::bind(("127.0.0.1", UDP_PORT)).unwrap_or_else(|e| panic!("{e}"));
            // An unbound sender: the kernel picks (autobinds) its port at the first send.
            let tx = UdpSocket::from(crate::util::new_socket(
                rustix::net::AddressFamily::INET,
                rustix::net::SocketType::DGRAM,
                None,
            ));
            tx.send_to(b"x", ("127.0.0.1", UDP_PORT))
                .unwrap_or_else(|e| panic!("{e}"));
            (la, (ac, as_), lb, b, rx, tx)
        });
        flood(&mut b.0);
        let keys = (pair_key(&b.0), pair_key(&b.1), pair_key(&a.1));
        ns.wait_for(
            "-tan",
            "the scene's queues and the nobody listener",
            |rows| {
                let q = |k: &str| {
                    rows.iter()
                        .find(|r| format!("{} {}", r.local, r.peer) == k)
                        .map(|r| (r.recv_q.clone(), r.send_q.clone()))
                };
                let nonzero = |s: &str| s != "0";
                q(&keys.0).is_some_and(|(_, s)| nonzero(&s))
                    && q(&keys.1).is_some_and(|(r, _)| nonzero(&r))
                    && q(&keys.2).is_some_and(|(r, _)| r == "100")
                    && rows
                        .iter()
                        .any(|r| r.local == format!("127.0.0.1:{NOBODY_PORT}"))
            },
        );
        // The flood settles over a few milliseconds (the kernel moves data from B's send
        // queue to its peer's receive queue): wait until two reads agree, so that queues
        // compared between runs hold still.
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut last = String::new();
        loop {
            let now = stdout_text(&run_ok(&mut ns.ss(["-tan"])));
            if now == last {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the queues never settled:\n{now}"
            );
            last = now;
            std::thread::sleep(Duration::from_millis(100));
        }
        Scene {
            ns,
            la,
            a,
            lb,
            b,
            udp_rx,
            udp_tx,
            nobody,
        }
    }

    /// sockq `args` inside the namespace; must exit 0.
    fn sockq(&self, args: &[&str]) -> Output {
        run_ok(&mut self.ns.sockq(args))
    }

    fn nobody_key(&self) -> String {
        format!("127.0.0.1:{NOBODY_PORT} 0.0.0.0:*")
    }
}

/// Like [`endpoints`], for `-H` output.
fn endpoints_h(out: &Output) -> Vec<String> {
    let mut v: Vec<String> = crate::util::parse_rows(&stdout_text(out), false, true)
        .iter()
        .map(|r| format!("{} {}", r.local, r.peer))
        .collect();
    v.sort();
    v
}
