//! node_exporter and Prometheus on free loopback ports, for the `--metrics` tests: each server
//! runs in its own process group with its own data directory, and a Drop guard kills the group
//! and removes the directory, whatever happens. Also `promtool check metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

pub(crate) const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
pub(crate) const PROMETHEUS: &str = "/usr/bin/prometheus";
pub(crate) const PROMTOOL: &str = "/usr/bin/promtool";

/// How long a server may take to come up, and Prometheus to show a value.
pub(crate) const WAIT: Duration = Duration::from_secs(40);

/// A free loopback port (bound, read, released: the server binds it next).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Minimal HTTP/1.0 GET over loopback: (status, body).
pub(crate) fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
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
pub(crate) fn urlencode(s: &str) -> String {
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
pub(crate) struct Server {
    child: Child,
    /// The loopback port it serves on.
    pub(crate) port: u16,
    dir: TempDir,
}

impl Server {
    /// Starts `prog` with `args(port, dir)` until `ready_path` answers 200.
    pub(crate) fn start(
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
pub(crate) fn node_exporter(dir: &Path) -> Server {
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
pub(crate) fn prometheus(target_port: u16) -> Server {
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
pub(crate) fn query(prom: &Server, q: &str) -> Vec<serde_json::Value> {
    let (status, body) = http_get(prom.port, &format!("/api/v1/query?query={}", urlencode(q)))
        .unwrap_or_else(|e| panic!("query {q}: {e}"));
    assert_eq!(status, 200, "query {q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Polls `q` until `ok` accepts the result, or panics with the last one.
pub(crate) fn query_until(
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

/// The value of one sample of a query result.
pub(crate) fn sample_value(v: &serde_json::Value) -> f64 {
    v["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// `promtool check metrics` on an exposition: `Err` with promtool's complaint when it rejects it.
pub(crate) fn promtool_check(text: &[u8]) -> Result<(), String> {
    let mut lint = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {PROMTOOL}: {e}"));
    // promtool reads all of stdin before it writes, so this cannot block on its output.
    lint.stdin.take().unwrap().write_all(text).unwrap();
    let res = lint.wait_with_output().unwrap();
    if res.status.success() {
        return Ok(());
    }
    Err(format!(
        "{}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    ))
}
