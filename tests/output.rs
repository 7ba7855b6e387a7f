//! Output for scripts and people: the JSON schema (docs/json.md), jc's
//! parser on sockq's text, `-r`, and escaping of hostile names.

use crate::util::{self, Netns};
use serde_json::Value;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::{Duration, Instant};

fn sockq_json(args: &[&str]) -> Vec<Value> {
    let out = util::run(util::sockq().args(args));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}\n{text}"));
    v.as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{args:?}: not an array"))
}

/// Checks one socket object against docs/json.md: known keys with the
/// documented types, never null.
fn check_schema(o: &Value) {
    let obj = o
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {o}"));
    for (k, v) in obj {
        assert!(!v.is_null(), "{k} is null in {o}");
        let ok = match k.as_str() {
            "netid" | "state" | "shutdown" | "cgroup" | "cong" | "netns" => v.is_string(),
            "recv_q" | "send_q" | "inode" | "cookie" | "uid" | "fwmark" | "cgroup_id" | "tos"
            | "tclass" | "class_id" | "inet_sockopt" => v.is_u64(),
            "v6only" => v.is_boolean(),
            "local" | "peer" | "timer" | "skmem" | "tcp_info" | "bbr" => v.is_object(),
            "users" | "processes" => v.is_array(),
            _ => false,
        };
        assert!(ok, "unexpected field or type: {k} = {v} in {o}");
    }
    for k in [
        "netid", "state", "recv_q", "send_q", "local", "peer", "inode",
    ] {
        assert!(obj.contains_key(k), "{k} missing in {o}");
    }
    if let Some(t) = obj.get("timer") {
        assert!(
            t["name"].is_string() && t["expires_ms"].is_u64() && t["retrans"].is_u64(),
            "{t}"
        );
    }
    for u in obj
        .get("users")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        assert!(
            u["comm"].is_string() && u["pid"].is_u64() && u["fd"].is_u64(),
            "{u}"
        );
    }
    for end in ["local", "peer"] {
        for (k, v) in obj[end].as_object().into_iter().flatten() {
            let ok = match k.as_str() {
                "address" | "interface" | "service" | "host" | "name" | "protocol_name" => {
                    v.is_string()
                }
                "abstract" => v.is_boolean(),
                "portid" => v.is_i64(),
                _ => v.is_u64(),
            };
            assert!(ok, "{end}.{k} = {v}");
        }
    }
}

#[test]
fn json_matches_the_documented_schema() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let _c = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let _u = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let filter = format!("sport = :{port} or dport = :{port}");
    for args in [
        vec!["-tan", "--json", filter.as_str()],
        vec!["-tanoemi", "--json", filter.as_str()],
        vec!["-tanp", "--json", filter.as_str()],
        vec!["-tanP", "--json", filter.as_str()],
        vec!["-uan", "--json"],
        vec!["-xa", "--json"],
        vec!["-f", "netlink", "--json"],
    ] {
        let rows = sockq_json(&args);
        for r in &rows {
            check_schema(r);
        }
        if args.contains(&filter.as_str()) {
            assert!(rows.len() >= 3, "{args:?}: {rows:?}");
            assert!(rows.iter().all(|r| r["netid"] == "tcp"));
        }
        if args[0] == "-tanp" || args[0] == "-tanP" {
            let me = u64::from(std::process::id());
            assert!(
                rows.iter().any(|r| r["users"]
                    .as_array()
                    .is_some_and(|u| u.iter().any(|x| x["pid"] == me))),
                "{args:?}: this process is not among the users: {rows:?}"
            );
        }
        if args[0] == "-tanP" {
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            assert!(
                rows.iter().any(|r| r["processes"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|x| x["exe"] == exe.as_str()))),
                "-P does not name the binary {exe}: {rows:?}"
            );
        }
    }
}

#[test]
fn json_lines_is_one_object_per_line() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let _c = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let f = format!("sport = :{port} or dport = :{port}");
    let out = util::run(util::sockq().args(["-tan", "--json-lines", &f]));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{text}");
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        check_schema(&v);
    }
    let s: Value = serde_json::from_slice(&util::run(util::sockq().args(["-s", "--json"])).stdout)
        .unwrap_or_else(|e| panic!("-s --json: {e}"));
    assert!(
        s["tcp"]["total"].is_u64() && s["transport"]["inet"]["ipv4"].is_u64(),
        "{s}"
    );
}

#[test]
fn hostile_unix_names_print_escaped() {
    let dir = std::env::temp_dir().join(format!("sockq-esc-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let name = "a\nb\x1b[31mred\u{202e}txt.sock";
    let path = dir.join(name);
    let _l = UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind {path:?}: {e}"));
    let out = util::run(util::sockq().args(["-xl", "src", &format!("{}/*", dir.display())]));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One spelling for every byte (docs/output.md, Terminal safety).
    assert!(
        text.contains("a\\x0ab\\x1b[31mred\\u{202e}txt.sock"),
        "{text}"
    );
    assert!(
        !text.contains('\x1b') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    // One row plus the header: the newline in the name did not split it.
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn resolve_names_from_hosts_and_stays_bounded() {
    // 127.0.0.1 is `localhost` in /etc/hosts on Debian.
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with("127.0.0.1") && l.contains("localhost")),
        "{hosts}"
    );
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let out = util::run(util::sockq().args(["-Htlr", &format!("sport = :{port}")]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("localhost:{port}")), "{text}");

    // Addresses nothing resolves, asked of a resolver that never answers:
    // `ip netns exec` mounts /etc/netns/NAME/resolv.conf over
    // /etc/resolv.conf, and it names a UDP socket in the namespace that is
    // never read (no ICMP error, so each query waits its full timeout).
    // Eight addresses at 1.5 s each would take 12 s: the run must stop at
    // its 5 s bound, and must get near it (else the resolver was not asked).
    if !util::root_or_skip("resolve_names_from_hosts_and_stays_bounded (netns part)") {
        return;
    }
    let ns = Netns::new();
    let etc = EtcNetns::new(
        ns.name(),
        "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n",
    );
    let addrs: Vec<String> = (1..=8).map(|i| format!("198.51.100.{i}")).collect();
    for a in &addrs {
        ns.ip(&["addr", "add", &format!("{a}/32"), "dev", "lo"]);
    }
    let held = ns.enter(|| {
        let dead = UdpSocket::bind("127.0.0.1:53").unwrap_or_else(|e| panic!("{e}"));
        let listeners: Vec<TcpListener> = addrs
            .iter()
            .map(|a| TcpListener::bind((a.as_str(), 0)).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        (dead, listeners)
    });
    let mut cmd = ns.sockq(["-Htlr"]);
    let started = Instant::now();
    let out = util::run_plain(&mut cmd);
    let took = started.elapsed();
    util::shadow_unprivileged(&cmd, &out);
    drop((held, etc));
    assert!(out.status.success(), "{}", util::show_output(&out));
    // The documented bound is 5 s for the whole run; allow process start-up.
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(8),
        "took {took:?}: want the 5 s bound, reached"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for a in &addrs {
        assert!(
            text.contains(&format!("{a}:")),
            "numeric fallback for {a}:\n{text}"
        );
    }
}

/// `/etc/netns/NAME/` with a `resolv.conf`, removed on drop.
struct EtcNetns(std::path::PathBuf);

impl EtcNetns {
    fn new(netns: &str, resolv_conf: &str) -> EtcNetns {
        let dir = std::path::Path::new("/etc/netns").join(netns);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let guard = EtcNetns(dir);
        std::fs::write(guard.0.join("resolv.conf"), resolv_conf)
            .unwrap_or_else(|e| panic!("write resolv.conf: {e}"));
        guard
    }
}

impl Drop for EtcNetns {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// jc parses ss's text; it must parse sockq's into the same records.
#[test]
fn jc_parses_sockq_like_ss() {
    let jc = Command::new("jc").arg("--version").output();
    if jc.is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "jc is not installed (scripts/test installs it)"
        );
        println!("skipping jc_parses_sockq_like_ss: jc not installed");
        return;
    }
    if !util::root_or_skip("jc_parses_sockq_like_ss") {
        return;
    }
    let ns = Netns::new();
    let held = ns.enter(|| {
        let l = TcpListener::bind("127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
        let c = TcpStream::connect("127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
        let a = l.accept().unwrap_or_else(|e| panic!("{e}")).0;
        let u = UdpSocket::bind("127.0.0.1:5353").unwrap_or_else(|e| panic!("{e}"));
        let l6 = TcpListener::bind("[::1]:2222").unwrap_or_else(|e| panic!("{e}"));
        (l, c, a, u, l6)
    });
    for args in [&["-tuan"][..], &["-tulnp"][..], &["-tuanp"][..]] {
        let parse = |mut cmd: Command| -> Value {
            let text = util::run(&mut cmd);
            assert!(text.status.success(), "{}", util::show_output(&text));
            let input = util::TempFile::new("jc", &text.stdout);
            let out = util::run_plain(
                Command::new("sh")
                    .args(["-c", "exec jc --ss < \"$1\"", "sh"])
                    .arg(input.path()),
            );
            assert!(out.status.success(), "jc\n{}", util::show_output(&out));
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("jc: {e}"))
        };
        let ours = parse(ns.sockq(args));
        let theirs = parse(ns.ss(args));
        let norm = |v: &Value| {
            let mut rows: Vec<String> = v
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let mut r = r.clone();
                    if let Some(o) = r.as_object_mut() {
                        // ss 6.1 always has a Process column; jc then may add empty keys.
                        o.retain(|_, v| !v.is_null() && v != "");
                    }
                    r.to_string()
                })
                .collect();
            rows.sort();
            rows
        };
        assert_eq!(norm(&ours), norm(&theirs), "{args:?}");
        assert!(!norm(&ours).is_empty(), "{args:?}: no records");
    }
    drop(held);
}
