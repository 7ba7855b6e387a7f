//! `--metrics` and `--metrics-file` end to end, on real parts: promtool
//! lints sockq's exposition of a busy scene (nginx plus a few hundred
//! connections), node_exporter's textfile collector serves the file to a
//! Prometheus that scrapes every second, and the answers of Prometheus's
//! HTTP API are checked against ss on the same sockets. Also: the number of
//! series under 10,000 connections, atomic rewrites, and bad input.
//!
//! node_exporter and Prometheus run on free loopback ports in their own
//! process groups; a Drop guard kills each group and removes its data,
//! whatever happens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::process::h::{Nginx, TempDir, have_or_skip};
use crate::util::{root_or_skip, run, run_plain, setpriv_nobody, show_output, sockq};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";

/// How long a server may take to come up, and Prometheus to show a value.
const WAIT: Duration = Duration::from_secs(40);

/// A free loopback port (bound, read, released: the server binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Minimal HTTP/1.0 GET over loopback: (status, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok((status, body))
}

/// Percent-encodes a query parameter.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A server in its own process group, with a data directory; Drop kills
/// the group and removes the directory.
struct Server {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Server {
    /// Starts `prog` with `args(port, dir)` until `ready_path` answers 200.
    fn start(
        name: &'static str,
        prog: &str,
        args: impl Fn(u16, &Path) -> Vec<String>,
        ready_path: &str,
    ) -> Server {
        let mut last = String::new();
        // A port taken between free_port and the server's bind: try again.
        for _ in 0..3 {
            let dir = TempDir::new(name);
            let port = free_port();
            let log = std::fs::File::create(dir.0.join("log")).unwrap();
            let child = Command::new(prog)
                .args(args(port, &dir.0))
                .current_dir(&dir.0)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log))
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("start {prog}: {e}"));
            let mut s = Server { child, port, dir };
            let start = Instant::now();
            loop {
                if let Ok(Some(st)) = s.child.try_wait() {
                    last = format!(
                        "{name} exited ({st}): {}",
                        std::fs::read_to_string(s.dir.0.join("log")).unwrap_or_default()
                    );
                    break;
                }
                if matches!(http_get(port, ready_path), Ok((200, _))) {
                    return s;
                }
                if start.elapsed() > WAIT {
                    panic!(
                        "{name} not ready within {WAIT:?}: {}",
                        std::fs::read_to_string(s.dir.0.join("log")).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("{last}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `dir` (the TSDB, the logs) goes with its TempDir after this.
    }
}

/// node_exporter with only the textfile collector, reading `dir`.
fn node_exporter(dir: &Path) -> Server {
    let d = dir.display().to_string();
    Server::start(
        "node-exporter",
        NODE_EXPORTER,
        move |port, _| {
            vec![
                "--collector.disable-defaults".into(),
                "--collector.textfile".into(),
                format!("--collector.textfile.directory={d}"),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ]
        },
        "/metrics",
    )
}

/// Prometheus scraping `target_port` every second.
fn prometheus(target_port: u16) -> Server {
    Server::start(
        "prometheus",
        PROMETHEUS,
        move |port, dir| {
            let conf = dir.join("prometheus.yml");
            std::fs::write(
                &conf,
                format!(
                    "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                     scrape_configs:\n  - job_name: node\n    static_configs:\n\
                     \x20     - targets: ['127.0.0.1:{target_port}']\n"
                ),
            )
            .unwrap();
            vec![
                format!("--config.file={}", conf.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ]
        },
        "/-/ready",
    )
}

/// The result vector of an instant query.
fn query(prom: &Server, q: &str) -> Vec<serde_json::Value> {
    let (status, body) = http_get(prom.port, &format!("/api/v1/query?query={}", urlencode(q)))
        .unwrap_or_else(|e| panic!("query {q}: {e}"));
    assert_eq!(status, 200, "query {q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Polls `q` until `ok` accepts the result, or panics with the last one.
fn query_until(
    prom: &Server,
    q: &str,
    ok: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let start = Instant::now();
    loop {
        let r = query(prom, q);
        if ok(&r) {
            return r;
        }
        assert!(
            start.elapsed() < WAIT,
            "Prometheus never answered {q} as expected; last: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn sample_value(v: &serde_json::Value) -> f64 {
    v["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Runs `f` on a thread inside the named namespace.
fn in_netns<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = Path::new("/var/run/netns").join(name);
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path).unwrap();
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .unwrap();
            f()
        })
        .join()
        .unwrap()
    })
}

/// A python3 process in a namespace holding a listener on 127.0.0.1 and
/// `pairs` connections to it (the clients in a forked child, so each
/// process stays under the fd limit), plus `extra` idle connections to
/// `extra_to`. Dropping it closes stdin and kills its process group.
struct Conns {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
}

const CONNS: &str = r#"
import os, socket, sys, resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
pairs, extra = int(sys.argv[1]), int(sys.argv[2])
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(4096)
port = l.getsockname()[1]
r, w = os.pipe()
if os.fork() == 0:
    held = [socket.create_connection(('127.0.0.1', port)) for _ in range(pairs)]
    if extra:
        host, p = sys.argv[3].rsplit(':', 1)
        held += [socket.create_connection((host, int(p))) for _ in range(extra)]
    os.write(w, b'x'); sys.stdin.read(); os._exit(0)
acc = []
while len(acc) < pairs:
    acc.append(l.accept()[0])
os.read(r, 1)
print(port, flush=True)
sys.stdin.read()
"#;

impl Conns {
    fn start(netns: &str, pairs: usize, extra: usize, extra_to: &str) -> Conns {
        let mut child = Command::new("ip")
            .args(["netns", "exec", netns, "python3", "-c", CONNS])
            .args([pairs.to_string(), extra.to_string(), extra_to.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start python3");
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let mut c = Conns {
            child,
            stdin,
            port: 0,
        };
        c.port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("connection scene said {line:?}"));
        c
    }
}

impl Drop for Conns {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// Non-listening TCP sockets ss shows in a namespace (`ss -tanH`).
fn ss_connected(netns: &str) -> usize {
    let out = run_plain(Command::new("ip").args(["netns", "exec", netns, "ss", "-tanH"]));
    assert!(out.status.success(), "{}", show_output(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("LISTEN"))
        .count()
}

/// Samples (not comments) of an exposition.
fn samples(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn value_of(line: &str) -> f64 {
    line.rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
fn promtool_accepts_the_busy_scene() {
    let t = "promtool_accepts_the_busy_scene";
    if !root_or_skip(t) || !have_or_skip(t, "nginx") || !have_or_skip(t, PROMTOOL) {
        return;
    }
    let ng = Nginx::start();
    let _c = Conns::start(&ng.ns.name, 300, 20, "127.0.0.2:80");
    let out = run(sockq().args(["-N", &ng.ns.name, "--metrics", "-tan"]));
    assert!(out.status.success(), "{}", show_output(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("sockq_listening{")
            && l.contains("port=\"80\"")
            && l.contains("comm=\"nginx\"")),
        "{text}"
    );
    let conns: f64 = samples(&text)
        .iter()
        .filter(|l| l.starts_with("sockq_connections{"))
        .map(|l| value_of(l))
        .sum();
    assert!(conns >= 640.0, "{conns} connections counted:\n{text}");
    let mut lint = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lint.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let res = lint.wait_with_output().unwrap();
    assert!(
        res.status.success(),
        "promtool check metrics rejected sockq's output: {}\n{}\n{text}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
}

#[test]
fn node_exporter_and_prometheus_serve_the_fleet_answers() {
    let t = "node_exporter_and_prometheus_serve_the_fleet_answers";
    if !root_or_skip(t)
        || !have_or_skip(t, "nginx")
        || !have_or_skip(t, NODE_EXPORTER)
        || !have_or_skip(t, PROMETHEUS)
    {
        return;
    }
    let ng = Nginx::start();
    let _c = Conns::start(&ng.ns.name, 50, 10, "127.0.0.2:80");
    let textdir = TempDir::new("textfile");
    let ne = node_exporter(&textdir.0);
    let prom = prometheus(ne.port);
    let file = textdir.0.join("sockq.prom");
    let out = run(sockq()
        .args(["--all-netns", "--metrics-file"])
        .arg(&file)
        .arg("-tan"));
    assert!(out.status.success(), "{}", show_output(&out));
    assert!(out.stdout.is_empty(), "--metrics-file printed on stdout");
    let expected = ss_connected(&ng.ns.name);
    assert!(expected >= 120, "ss shows {expected} connections");
    let ns = &ng.ns.name;
    // node_exporter parsed the file (no textfile error), and Prometheus
    // scraped it.
    query_until(&prom, "node_textfile_scrape_error", |r| {
        r.len() == 1 && sample_value(&r[0]) == 0.0
    });
    let listening = query_until(
        &prom,
        &format!("sockq_listening{{port=\"80\",netns=\"{ns}\"}}"),
        |r| !r.is_empty(),
    );
    assert_eq!(listening.len(), 1, "{listening:?}");
    let m = &listening[0]["metric"];
    assert_eq!(m["comm"], "nginx", "{m}");
    assert_eq!(m["user"], "root", "{m}");
    assert_eq!(m["address"], "127.0.0.2", "{m}");
    assert_eq!(sample_value(&listening[0]), 1.0);
    let sum = query_until(
        &prom,
        &format!("sum(sockq_connections{{netns=\"{ns}\"}})"),
        |r| !r.is_empty(),
    );
    assert_eq!(
        sample_value(&sum[0]),
        expected as f64,
        "sum of sockq_connections against ss -tan in {ns}"
    );
    // The accepted side of the nginx connections is `in` on port 80.
    let inbound = query(
        &prom,
        &format!(
            "sum(sockq_connections{{netns=\"{ns}\",direction=\"in\",port=\"80\",comm=\"nginx\"}})"
        ),
    );
    assert_eq!(inbound.len(), 1, "{inbound:?}");
    assert!(sample_value(&inbound[0]) >= 1.0, "{inbound:?}");
}

#[test]
fn ten_thousand_connections_make_a_bounded_number_of_series() {
    let t = "ten_thousand_connections_make_a_bounded_number_of_series";
    if !root_or_skip(t) || !have_or_skip(t, "python3") {
        return;
    }
    let ns = crate::util::Netns::new();
    let c = Conns::start(ns.name(), 10_000, 0, "");
    let out = run(&mut ns.sockq(["--metrics", "-tan"]));
    assert!(out.status.success(), "{}", show_output(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let series = samples(&text);
    let conns: f64 = series
        .iter()
        .filter(|l| l.starts_with("sockq_connections{"))
        .map(|l| value_of(l))
        .sum();
    assert_eq!(conns, 20_000.0, "{text}");
    // One listener (3 series: listening, queue length, queue limit); both
    // ends ESTAB, `in` on the port and `out` to it (2); their receive and
    // send sums (4); the socket count (1); four self-metrics without
    // labels. Nothing per connection.
    assert_eq!(series.len(), 3 + 2 + 4 + 1 + 4, "{text}");
    let port = format!("port=\"{}\"", c.port);
    assert!(
        series.iter().any(|l| l.contains("direction=\"in\"")
            && l.contains(&port)
            && value_of(l) == 10_000.0),
        "{text}"
    );
}

#[test]
fn a_reader_never_sees_a_partial_file() {
    let t = "a_reader_never_sees_a_partial_file";
    if !root_or_skip(t) || !have_or_skip(t, "python3") {
        return;
    }
    // Many listeners make a file of some size, so a non-atomic rewrite
    // would be caught half-written.
    let ns = crate::util::Netns::new();
    let _held: Vec<TcpListener> = in_netns(ns.name(), || {
        (0..400)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect()
    });
    let dir = TempDir::new("metrics-atomic");
    let file = dir.0.join("sockq.prom");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (reads, bad) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let (mut reads, mut bad) = (0usize, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(text) = std::fs::read_to_string(&file) else {
                    continue; // not written yet
                };
                reads += 1;
                let whole = text.starts_with("# HELP sockq_listening ")
                    && text.ends_with("\nsockq_collection_netns_failed 0\n")
                    && samples(&text)
                        .iter()
                        .filter(|l| l.starts_with("sockq_listening{"))
                        .count()
                        == 400;
                if !whole && bad.len() < 3 {
                    bad.push(text.len());
                }
            }
            (reads, bad)
        });
        for _ in 0..25 {
            let out = run_plain(&mut ns.sockq([
                "--metrics-file".as_ref(),
                file.as_os_str(),
                "-tln".as_ref(),
            ]));
            assert!(out.status.success(), "{}", show_output(&out));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(reads > 25, "the reader read only {reads} times");
    assert!(bad.is_empty(), "partial files of {bad:?} bytes were seen");
    // No temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["sockq.prom"]);
}

#[test]
fn an_unwritable_directory_is_one_line_and_keeps_the_old_file() {
    let t = "an_unwritable_directory_is_one_line_and_keeps_the_old_file";
    if !root_or_skip(t) {
        return;
    }
    // Root writes anywhere: nobody gets a root-owned 0755 directory.
    let dir = TempDir::new("metrics-ro");
    let file = dir.0.join("sockq.prom");
    std::fs::write(&file, "old\n").unwrap();
    let copy = crate::util::PublicCopy::new();
    let out = run_plain(
        Command::new("setpriv")
            .args(setpriv_nobody())
            .arg(copy.bin())
            .arg("--metrics-file")
            .arg(&file)
            .arg("-tln"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", show_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("metrics")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("sockq: "), "{err}");
    assert!(lines[0].contains(&*file.to_string_lossy()), "{err}");
    assert!(lines[0].contains("Permission denied"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "old\n");
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);

    // A directory that does not exist: the same, as root.
    let missing: PathBuf = dir.0.join("no-such-dir").join("sockq.prom");
    let out = run(sockq().arg("--metrics-file").arg(&missing).arg("-tln"));
    assert_eq!(out.status.code(), Some(1), "{}", show_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    // Besides the owner notice (root too is refused some processes' fds).
    let lines = err.lines().filter(|l| !l.contains("could not be read"));
    assert_eq!(lines.count(), 1, "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
}

#[test]
fn metrics_with_json_or_events_is_a_usage_error() {
    for args in [
        &["--metrics", "--json", "-tan"][..],
        &["--metrics", "-E"],
        &["--json", "--metrics-file", "/tmp/never-written.prom"],
        &["--metrics", "--json-lines"],
    ] {
        let out = run(sockq().args(args));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            show_output(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("sockq: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert!(!Path::new("/tmp/never-written.prom").exists());
}
