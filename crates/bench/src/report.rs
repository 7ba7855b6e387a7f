//! Medians, ratios and the markdown / machine-readable output.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::{Outcome, Sample};

/// All runs of one tool on one command (one entry per round).
#[derive(Default)]
pub struct Series {
    /// One outcome per timed round.
    pub runs: Vec<Outcome>,
    /// Why the tool was not timed at all (e.g. ss has no `--json`).
    pub skipped: Option<String>,
    /// Lines and bytes of the last run whose stdout was counted.
    pub output: Option<(u64, u64)>,
    /// The first bytes of that output.
    pub head: Option<String>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v.get(mid).copied()
    } else {
        Some((v.get(mid - 1)? + v.get(mid)?) / 2.0)
    }
}

impl Series {
    fn ok(&self) -> impl Iterator<Item = &Sample> {
        self.runs.iter().filter_map(|r| r.as_ref().ok())
    }

    fn stat(&self, f: impl Fn(&Sample) -> f64) -> Option<f64> {
        median(self.ok().map(f).collect())
    }

    /// Median wall time, seconds.
    pub fn wall(&self) -> Option<f64> {
        self.stat(|s| s.wall.as_secs_f64())
    }

    /// Median user+system CPU time, seconds.
    pub fn cpu(&self) -> Option<f64> {
        self.stat(|s| s.cpu.as_secs_f64())
    }

    /// Median of each run's peak RSS, KiB.
    pub fn rss(&self) -> Option<f64> {
        self.stat(|s| s.maxrss_kib as f64)
    }

    /// Output lines of the last counted run.
    pub fn lines(&self) -> Option<u64> {
        self.output.map(|o| o.0)
    }

    /// Output bytes of the last counted run.
    pub fn bytes(&self) -> Option<u64> {
        self.output.map(|o| o.1)
    }

    /// Keeps a run's output counts if its stdout was counted.
    pub fn note_output(&mut self, out: &Outcome, counted: bool) {
        if let (Ok(s), true) = (out, counted) {
            self.output = Some((s.lines, s.bytes));
            self.head = Some(s.head.clone());
        }
    }

    /// The first failure, if any run failed.
    pub fn first_error(&self) -> Option<&str> {
        self.runs
            .iter()
            .find_map(|r| r.as_ref().err().map(String::as_str))
    }

    /// Round `r`, if it succeeded.
    fn round(&self, r: usize) -> Option<&Sample> {
        self.runs.get(r)?.as_ref().ok()
    }
}

/// Per-round `a / b` wall-time ratios (rounds where both ran).
pub fn ratios(a: &Series, b: &Series) -> Vec<Option<f64>> {
    ratios_by(a, b, |s| s.wall)
}

/// Per-round `a / b` CPU-time ratios.
pub fn cpu_ratios(a: &Series, b: &Series) -> Vec<Option<f64>> {
    ratios_by(a, b, |s| s.cpu)
}

fn ratios_by(a: &Series, b: &Series, f: impl Fn(&Sample) -> Duration) -> Vec<Option<f64>> {
    (0..a.runs.len().max(b.runs.len()))
        .map(|r| {
            let (x, y) = (f(a.round(r)?), f(b.round(r)?));
            (y > Duration::ZERO).then(|| x.as_secs_f64() / y.as_secs_f64())
        })
        .collect()
}

/// Median of the rounds that have a ratio.
pub fn median_ratio(r: &[Option<f64>]) -> Option<f64> {
    median(r.iter().flatten().copied().collect())
}

/// Results of one command at one scale.
pub struct CmdResult {
    /// The command as typed (with the port filled in).
    pub display: String,
    /// ss's runs.
    pub ss: Series,
    /// sockq's runs.
    pub sockq: Series,
    /// For a JSON command: the index of its text twin in the same scale.
    pub text_twin: Option<usize>,
}

/// One kernel-floor variant at one scale.
pub struct FloorResult {
    /// What it dumps.
    pub label: &'static str,
    /// Its runs.
    pub series: Series,
}

/// Everything measured at one scale.
pub struct ScaleResult {
    /// Sockets asked for.
    pub target: usize,
    /// Sockets created.
    pub sockets: usize,
    /// TCP sockets among them.
    pub tcp_sockets: usize,
    /// TCP sockets the floor dump saw.
    pub seen: u64,
    /// Worker processes.
    pub workers: usize,
    /// Seconds to build the sockets.
    pub build_secs: f64,
    /// Per command.
    pub cmds: Vec<CmdResult>,
    /// Kernel floors.
    pub floors: Vec<FloorResult>,
}

/// Seconds as a short human string.
pub fn dur(s: Option<f64>) -> String {
    match s {
        None => "—".into(),
        Some(s) if s >= 1.0 => format!("{s:.2} s"),
        Some(s) if s >= 0.1 => format!("{:.0} ms", s * 1e3),
        Some(s) if s >= 0.01 => format!("{:.1} ms", s * 1e3),
        Some(s) => format!("{:.2} ms", s * 1e3),
    }
}

/// KiB as MiB.
pub fn mib(k: Option<f64>) -> String {
    k.map_or("—".into(), |k| format!("{:.1} MiB", k / 1024.0))
}

fn ratio(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{r:.2}"))
}

fn ratio_list(r: &[Option<f64>]) -> String {
    r.iter()
        .map(|x| x.map_or("✗".into(), |x| format!("{x:.2}")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn code(s: &str) -> String {
    format!("`{}`", cell(s))
}

fn opt_div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let (a, b) = (a?, b?);
    (b > 0.0).then(|| a / b)
}

fn short(msg: &str) -> String {
    let mut m: String = msg.chars().take(60).collect();
    if msg.chars().count() > 60 {
        m.push('…');
    }
    m
}

/// A tool's wall cell: the median, or why there is none.
fn wall_cell(s: &Series) -> String {
    if let Some(why) = &s.skipped {
        return format!("n/a ({})", cell(&short(why)));
    }
    match (s.wall(), s.first_error()) {
        (Some(w), None) => dur(Some(w)),
        (Some(w), Some(_)) => format!(
            "{} ({} failed)",
            dur(Some(w)),
            s.runs.iter().filter(|r| r.is_err()).count()
        ),
        (None, Some(e)) => format!("failed: {}", cell(&short(e))),
        (None, None) => "—".into(),
    }
}

/// The markdown section for one scale.
pub fn scale_table(s: &ScaleResult, rounds: usize, warmup: usize) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "### {} sockets\n\n{} sockets created ({} TCP, {} seen by the kernel dump) by {} worker processes in {:.1} s; {} timed rounds after {} warm-up, ss and sockq alternating.\n",
        thousands(s.target as u64),
        thousands(s.sockets as u64),
        thousands(s.tcp_sockets as u64),
        thousands(s.seen),
        s.workers,
        s.build_secs,
        rounds,
        warmup
    );
    o.push_str("| command | ss wall | sockq wall | sockq/ss wall | per round | ss CPU | sockq CPU | sockq/ss CPU | ss peak RSS | sockq peak RSS | sockq/ss RSS | lines ss / sockq |\n");
    o.push_str("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|\n");
    for c in &s.cmds {
        let (ratio_cell, rounds_cell, cpu_cell) = match c.text_twin.and_then(|t| s.cmds.get(t)) {
            Some(twin) if c.ss.wall().is_none() => {
                let r = ratios(&c.sockq, &twin.sockq);
                let vs = format!(" × sockq `{}`", cell(&twin.display));
                (
                    format!("**{}**{vs}", ratio(median_ratio(&r))),
                    ratio_list(&r),
                    format!(
                        "{}{vs}",
                        ratio(median_ratio(&cpu_ratios(&c.sockq, &twin.sockq)))
                    ),
                )
            }
            _ => {
                let r = ratios(&c.sockq, &c.ss);
                (
                    format!("**{}**", ratio(median_ratio(&r))),
                    ratio_list(&r),
                    ratio(median_ratio(&cpu_ratios(&c.sockq, &c.ss))),
                )
            }
        };
        let lines = |x: &Series| x.lines().map_or("—".into(), |l| l.to_string());
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            code(&c.display),
            wall_cell(&c.ss),
            wall_cell(&c.sockq),
            ratio_cell,
            rounds_cell,
            dur(c.ss.cpu()),
            dur(c.sockq.cpu()),
            cpu_cell,
            mib(c.ss.rss()),
            mib(c.sockq.rss()),
            ratio(opt_div(c.sockq.rss(), c.ss.rss())),
            lines(&c.ss),
            lines(&c.sockq),
        );
    }
    o.push_str("\n| floor: the kernel's work alone (a raw sock_diag dump, nothing decoded; the /proc fd walk, nothing kept) | wall | CPU | peak RSS | messages / socket fds |\n|---|---:|---:|---:|---:|\n");
    for f in &s.floors {
        let msgs = f.series.head.as_deref().map_or("—", str::trim);
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            f.label,
            wall_cell(&f.series),
            dur(f.series.cpu()),
            mib(f.series.rss()),
            msgs
        );
    }
    o
}

/// Does cost grow linearly? Time per 1,000 sockets at each scale.
pub fn linearity_table(scales: &[ScaleResult]) -> String {
    let mut o = String::new();
    let Some(first) = scales.first() else {
        return o;
    };
    o.push_str("### Growth: wall time per 1,000 sockets\n\n| command | tool |");
    for s in scales {
        let _ = write!(o, " {} |", thousands(s.target as u64));
    }
    o.push_str(" growth, two largest scales | verdict |\n|---|---|");
    for _ in scales {
        o.push_str("---:|");
    }
    o.push_str("---:|---|\n");
    let per_k =
        |s: &ScaleResult, x: &Series| x.wall().map(|w| w / (s.sockets.max(1) as f64 / 1000.0));
    let mut row = |name: &str, tool: &str, pick: &dyn Fn(&ScaleResult) -> Option<f64>| {
        let vals: Vec<Option<f64>> = scales.iter().map(pick).collect();
        if vals.iter().all(Option::is_none) {
            return;
        }
        let _ = write!(o, "| {name} | {tool} |");
        for v in &vals {
            let _ = write!(o, " {} |", dur(*v));
        }
        // The two largest scales: fixed costs (exec, the rest of the
        // machine's /proc for -p) weigh least there.
        let n = vals.len();
        let growth = opt_div(
            vals.get(n.wrapping_sub(1)).copied().flatten(),
            vals.get(n.wrapping_sub(2)).copied().flatten(),
        );
        let verdict = match growth {
            None => "—",
            Some(g) if g > 1.33 => "superlinear",
            Some(g) if g < 0.75 => "sublinear (fixed costs)",
            Some(_) => "linear",
        };
        let _ = writeln!(o, " {} | {verdict} |", ratio(growth));
    };
    for (i, c) in first.cmds.iter().enumerate() {
        let ss = |s: &ScaleResult| s.cmds.get(i).and_then(|c| per_k(s, &c.ss));
        let sq = |s: &ScaleResult| s.cmds.get(i).and_then(|c| per_k(s, &c.sockq));
        row(&code(&c.display), "ss", &ss);
        row(&code(&c.display), "sockq", &sq);
    }
    for (i, f) in first.floors.iter().enumerate() {
        let fl = |s: &ScaleResult| s.floors.get(i).and_then(|f| per_k(s, &f.series));
        row(f.label, "floor", &fl);
    }
    o
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or("null".into(), |v| format!("{v:.6}"))
}

fn json_series(s: &Series) -> String {
    format!(
        "{{\"wall_s\":{},\"cpu_s\":{},\"rss_kib\":{},\"lines\":{},\"bytes\":{},\"failed\":{},\"skipped\":{}}}",
        json_num(s.wall()),
        json_num(s.cpu()),
        s.rss().map_or("null".into(), |r| format!("{r:.0}")),
        s.lines().map_or("null".into(), |l| l.to_string()),
        s.bytes().map_or("null".into(), |l| l.to_string()),
        s.runs.iter().filter(|r| r.is_err()).count(),
        s.skipped.as_deref().map_or("null".into(), json_str),
    )
}

/// One `BENCH {json}` line per command and floor: for scripts and CI logs.
pub fn machine_lines(s: &ScaleResult) -> String {
    let mut o = String::new();
    for c in &s.cmds {
        let twin = c.text_twin.and_then(|t| s.cmds.get(t));
        let r = ratios(&c.sockq, &c.ss);
        let tr = twin.map(|t| ratios(&c.sockq, &t.sockq));
        let _ = writeln!(
            o,
            "BENCH {{\"sockets\":{},\"cmd\":{},\"ss\":{},\"sockq\":{},\"ratio\":{},\"ratios\":[{}],\"cpu_ratio\":{},\"ratio_vs_text\":{}}}",
            s.target,
            json_str(&c.display),
            json_series(&c.ss),
            json_series(&c.sockq),
            json_num(median_ratio(&r)),
            r.iter().map(|x| json_num(*x)).collect::<Vec<_>>().join(","),
            json_num(median_ratio(&cpu_ratios(&c.sockq, &c.ss))),
            json_num(tr.as_deref().and_then(median_ratio)),
        );
    }
    for f in &s.floors {
        let _ = writeln!(
            o,
            "BENCH {{\"sockets\":{},\"floor\":{},\"run\":{}}}",
            s.target,
            json_str(f.label),
            json_series(&f.series)
        );
    }
    o
}

/// 100000 -> "100,000".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64) -> Outcome {
        Ok(Sample {
            wall: Duration::from_millis(ms),
            cpu: Duration::from_millis(ms),
            maxrss_kib: 1024,
            bytes: 10,
            lines: 1,
            head: String::new(),
        })
    }

    #[test]
    fn medians_and_ratios() {
        let a = Series {
            runs: vec![sample(10), sample(30), Err("x".into()), sample(20)],
            ..Series::default()
        };
        let b = Series {
            runs: vec![sample(20), sample(30), sample(10), sample(40)],
            ..Series::default()
        };
        assert_eq!(a.wall(), Some(0.02));
        let r = ratios(&a, &b);
        assert_eq!(r, vec![Some(0.5), Some(1.0), None, Some(0.5)]);
        assert_eq!(median_ratio(&r), Some(0.5));
        assert_eq!(b.wall(), Some(0.025));
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(300000), "300,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(dur(Some(0.2034)), "203 ms");
        assert_eq!(dur(Some(2.914)), "2.91 s");
        assert_eq!(dur(Some(0.0251)), "25.1 ms");
        assert_eq!(json_str("a\"b"), "\"a\\\"b\"");
    }
}
