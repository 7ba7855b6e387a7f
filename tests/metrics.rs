//! `--metrics` and `--metrics-file` end to end, on real parts: promtool
//! lints sockq's exposition of a busy scene (nginx plus a few hundred
//! connections), node_exporter's textfile collector serves the file to a
//! Prometheus that scrapes every second, and the answers of Prometheus's
//! HTTP API are checked against ss on the same sockets. Also: the number of
//! series under 10,000 connections, atomic rewrites, and bad input. And the
//! `container` label of a real podman container's listener, through the
//! same chain.
//!
//! node_exporter and Prometheus run on free loopback ports in their own
//! process groups; a Drop guard kills each group and removes its data,
//! whatever happens (tests/util/prometheus.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::process::h::{Nginx, have_or_skip};
use crate::util::{
    NODE_EXPORTER, PROMETHEUS, PROMTOOL, Podman, TempDir, node_exporter, podman_or_skip,
    prometheus, query, query_until, root_or_skip, run, run_plain, sample_value, setpriv_nobody,
    show_output, sockq,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A cgroup named like a systemd unit (`sockq-mPID.slice/sockq-mPID-nginx.service`)
/// in each hierarchy systemd would use (cgroup2, and v1 `name=systemd`), so
/// the processes moved into it have that unit. Removed on drop, after its
/// processes are gone (declare it before them).
struct UnitCgroup {
    unit: String,
    dirs: Vec<PathBuf>,
}

impl UnitCgroup {
    fn new() -> UnitCgroup {
        let tag = format!("sockq-m{}", std::process::id());
        let unit = format!("{tag}-nginx.service");
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let mut dirs = Vec::new();
        for l in mounts.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            let systemd = f.len() >= 4
                && (f[2] == "cgroup2"
                    || (f[2] == "cgroup" && f[3].split(',').any(|o| o == "name=systemd")));
            if !systemd {
                continue;
            }
            let slice = Path::new(f[1]).join(format!("{tag}.slice"));
            let dir = slice.join(&unit);
            std::fs::create_dir_all(&dir).unwrap();
            dirs.push(dir);
            dirs.push(slice);
        }
        assert!(!dirs.is_empty(), "no cgroup hierarchy for systemd here");
        UnitCgroup { unit, dirs }
    }

    fn adopt(&self, pid: u32) {
        for d in self.dirs.iter().filter(|d| d.ends_with(&self.unit)) {
            std::fs::write(d.join("cgroup.procs"), pid.to_string()).unwrap();
        }
    }
}

impl Drop for UnitCgroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            for _ in 0..100 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
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
    if let Err(e) = crate::util::promtool_check(&out.stdout) {
        panic!("promtool check metrics rejected sockq's output: {e}\n{text}");
    }
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
    // Declared first, dropped last: after nginx has exited.
    let cg = UnitCgroup::new();
    let ng = Nginx::start();
    for pid in std::iter::once(ng.pid()).chain(ng.workers.iter().copied()) {
        cg.adopt(pid);
    }
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
    assert_eq!(m["unit"], cg.unit.as_str(), "{m}");
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

/// Sets the flag when dropped, also while unwinding.
struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
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
                std::thread::sleep(Duration::from_micros(200));
            }
            (reads, bad)
        });
        // Stops the reader however this loop ends (a failed run panics).
        let stopper = StopOnDrop(&stop);
        for _ in 0..25 {
            let out = run_plain(&mut ns.sockq([
                "--metrics-file".as_ref(),
                file.as_os_str(),
                "-tln".as_ref(),
            ]));
            assert!(out.status.success(), "{}", show_output(&out));
        }
        drop(stopper);
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
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("metrics file")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("No such file or directory"), "{err}");
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

#[test]
fn direction_holds_when_the_selection_leaves_listeners_out() {
    let t = "direction_holds_when_the_selection_leaves_listeners_out";
    if !root_or_skip(t) || !have_or_skip(t, "python3") {
        return;
    }
    let ns = crate::util::Netns::new();
    let c = Conns::start(ns.name(), 3, 0, "");
    // -tn: connected states only, so no LISTEN socket is selected; a filter
    // on the destination keeps only the client side.
    for (args, want_in) in [
        (&["--metrics", "-tn"][..], 3.0),
        (&["--metrics", "-tn", "dport", "=", ":0"][..], 0.0),
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace(":0", &format!(":{}", c.port)))
            .collect();
        let out = run(&mut ns.sockq(&args));
        assert!(out.status.success(), "{}", show_output(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        let port = format!("port=\"{}\"", c.port);
        let sum = |dir: &str| -> f64 {
            samples(&text)
                .iter()
                .filter(|l| {
                    l.starts_with("sockq_connections{")
                        && l.contains(&format!("direction=\"{dir}\""))
                        && l.contains(&port)
                })
                .map(|l| value_of(l))
                .sum()
        };
        assert!(!text.contains("sockq_listening{"), "{args:?}: {text}");
        assert_eq!(sum("in"), want_in, "{args:?}: {text}");
        assert_eq!(sum("out"), 3.0, "{args:?}: {text}");
    }
}

/// The labels of an exposition sample line (`name{k="v",...} value`), with
/// the format's `\\`, `\"` and `\n` escapes undone.
fn labels_of(line: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let Some(inner) = line.split_once('{').map(|(_, r)| r) else {
        return m;
    };
    let mut chars = inner.chars();
    loop {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        let key = key.trim_start_matches(',');
        if key.is_empty() || key.starts_with('}') || chars.next() != Some('"') {
            return m;
        }
        let mut val = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => val.push('\n'),
                    Some(e) => val.push(e),
                    None => {}
                },
                c => val.push(c),
            }
        }
        m.insert(key.to_owned(), val);
    }
}

#[test]
fn labels_of_reads_escaped_values() {
    let m = labels_of(r#"sockq_listening{netns="a,b",comm="x\"y\\z",unit=""} 1"#);
    assert_eq!(m["netns"], "a,b");
    assert_eq!(m["comm"], "x\"y\\z");
    assert_eq!(m["unit"], "");
    assert_eq!(m.len(), 3);
}

#[test]
fn a_podman_container_listener_carries_its_container_label() {
    let t = "a_podman_container_listener_carries_its_container_label";
    if !root_or_skip(t)
        || !podman_or_skip(t)
        || !have_or_skip(t, PROMTOOL)
        || !have_or_skip(t, NODE_EXPORTER)
        || !have_or_skip(t, PROMETHEUS)
    {
        return;
    }
    // A port of this run's own rather than a usual one: the container has a
    // namespace to itself (`--network none`), so any port is free in it.
    let port = (20_000 + std::process::id() % 40_000).to_string();
    let c = Podman::httpd(&format!("127.0.0.1:{port}"));
    // The truth, from podman and the kernel.
    let name = c.inspect("{{.Name}}");
    assert_eq!(name, c.name, "podman names the container");
    let pid = c.pid();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let comm = comm.trim_end();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t0\t")),
        "httpd runs as root in the container: {status}"
    );
    let label = format!("podman:{name}");

    // httpd listens a moment after `podman run` returns.
    let start = Instant::now();
    let (out, text) = loop {
        let out = run(sockq().args(["--all-netns", "--metrics", "-tln"]));
        assert!(out.status.success(), "{}", show_output(&out));
        let text = String::from_utf8(out.stdout.clone()).unwrap();
        if text.contains(&format!("container=\"{label}\""))
            || start.elapsed() > Duration::from_secs(20)
        {
            break (out, text);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let ours: Vec<&str> = samples(&text)
        .into_iter()
        .filter(|l| labels_of(l).get("container") == Some(&label))
        .collect();
    // One listener: its inventory line and its accept queue's two.
    let families: Vec<&str> = ours
        .iter()
        .map(|l| l.split_once('{').map_or(*l, |(f, _)| f))
        .collect();
    assert_eq!(
        families,
        [
            "sockq_listening",
            "sockq_listen_queue_length",
            "sockq_listen_queue_limit"
        ],
        "the container's series:\n{text}"
    );
    for l in &ours {
        let m = labels_of(l);
        let want = [
            ("netns", label.as_str()),
            ("proto", "tcp"),
            ("address", "127.0.0.1"),
            ("port", &port),
            ("comm", comm),
            ("user", "root"),
            ("container", &label),
        ];
        for (k, v) in want {
            assert_eq!(m.get(k).map(String::as_str), Some(v), "{k} in {l}");
        }
    }
    assert_eq!(value_of(ours[0]), 1.0, "{}", ours[0]);
    assert!(value_of(ours[2]) >= 1.0, "httpd's backlog: {}", ours[2]);
    // Every listening series of the container's namespace has the label,
    // and none outside it (the socket count has no container label).
    for l in samples(&text)
        .into_iter()
        .filter(|l| l.starts_with("sockq_listen"))
    {
        let m = labels_of(l);
        let here = m.get("netns") == Some(&label);
        assert_eq!(here, m.get("container") == Some(&label), "{l}");
    }
    if let Err(e) = crate::util::promtool_check(&out.stdout) {
        panic!("promtool check metrics rejected sockq's output: {e}\n{text}");
    }

    // The same through the textfile collector and Prometheus.
    let textdir = TempDir::new("podman-textfile");
    let file = textdir.0.join("sockq.prom");
    let out = run(sockq()
        .args(["--all-netns", "--metrics-file"])
        .arg(&file)
        .arg("-tln"));
    assert!(out.status.success(), "{}", show_output(&out));
    let ne = node_exporter(&textdir.0);
    let prom = prometheus(ne.port);
    let is_ours = |s: &serde_json::Value| s["metric"]["container"] == label.as_str();
    let r = query_until(&prom, r#"sockq_listening{container=~".+"}"#, |r| {
        r.iter().any(is_ours)
    });
    let series: Vec<&serde_json::Value> = r.iter().filter(|s| is_ours(s)).collect();
    assert_eq!(series.len(), 1, "{r:?}");
    let m = &series[0]["metric"];
    assert_eq!(m["netns"], label.as_str(), "{m}");
    assert_eq!(m["port"], port.as_str(), "{m}");
    assert_eq!(m["comm"], comm, "{m}");
    assert_eq!(sample_value(series[0]), 1.0);
    drop(c);
}
