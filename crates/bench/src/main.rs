//! sockq-bench: times sockq against ss on the same sockets.
//!
//! It creates a private network namespace, fills it with real sockets held
//! by worker processes, times both tools alternately on the same commands,
//! prints a markdown table and tears everything down, whatever happens.
//! See docs/benchmarks.md. Needs root (network namespaces, setns).

mod cmdline;
mod error;
mod fleet;
mod floor;
mod measure;
mod netns;
mod report;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;

use crate::error::{BenchError, Context};
use crate::fleet::{Fleet, WorkerSpec};
use crate::measure::{Runner, StdoutMode};
use crate::netns::Netns;
use crate::report::{CmdResult, FloorResult, ScaleResult, Series};

/// Times sockq against ss on N real sockets in a private network namespace.
#[derive(Parser, Debug)]
#[command(name = "sockq-bench", version)]
struct Args {
    /// The sockq binary to time.
    #[arg(long, default_value = "target/release/sockq")]
    sockq: PathBuf,
    /// The ss binary to compare with.
    #[arg(long, default_value = "ss")]
    ss: PathBuf,
    /// Socket counts to run, comma separated (each scale gets a fresh namespace).
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    sockets: Vec<usize>,
    /// Timed rounds per scale.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Untimed warm-up rounds (at least 1: it also detects what ss cannot run).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// A command to time, as typed after the tool name; repeatable. `:P`
    /// becomes a listener port. Default: -tan, -tanp, -tanoie,
    /// "-tn state established '( sport = :P )'", -tln, "--json -tan".
    #[arg(long = "cmd", allow_hyphen_values = true)]
    cmds: Vec<String>,
    /// Smoke test: a few hundred sockets, one round.
    #[arg(long)]
    quick: bool,
    /// Where the timed tools' stdout goes in timed rounds (warm-up always
    /// counts it through a pipe).
    #[arg(long, value_enum, default_value = "null")]
    stdout: StdoutMode,
    /// ESTABLISHED pairs held by one worker process (fd limit permitting).
    #[arg(long, default_value_t = 7500)]
    pairs_per_worker: usize,
    /// Exit 1 if any timed run failed.
    #[arg(long)]
    strict: bool,

    /// Internal: hold sockets for the harness.
    #[arg(long, hide = true)]
    worker: bool,
    /// Internal (worker): inherited listener fds.
    #[arg(long, hide = true, value_delimiter = ',')]
    listen_fds: Vec<i32>,
    /// Internal (worker): pairs to create.
    #[arg(long, hide = true, default_value_t = 0)]
    pairs: usize,
    /// Internal (worker): global index of the first pair.
    #[arg(long, hide = true, default_value_t = 0)]
    first: usize,
    /// Internal (worker): UDP sockets to create.
    #[arg(long, hide = true, default_value_t = 0)]
    udp: usize,
    /// Internal: the kernel-floor dump; prints the message count.
    #[arg(long, hide = true)]
    floor: bool,
    /// Internal (floor): idiag_ext bits to request.
    #[arg(long, hide = true, default_value_t = 0)]
    floor_ext: u8,
    /// Internal (floor): both families in one legacy request.
    #[arg(long, hide = true)]
    floor_one_walk: bool,
    /// Internal: the /proc floor on this many threads; prints the socket fds.
    #[arg(long, hide = true, default_value_t = 0)]
    proc_floor: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.worker {
        fleet::worker_main(&WorkerSpec {
            listen_fds: args.listen_fds.clone(),
            pairs: args.pairs,
            first: args.first,
            udp: args.udp,
        })
        .map(|()| ExitCode::SUCCESS)
    } else if args.proc_floor > 0 {
        floor::proc_walk_count(args.proc_floor).map(|n| {
            println!("{n}");
            ExitCode::SUCCESS
        })
    } else if args.floor {
        floor::dump_count(args.floor_ext, args.floor_one_walk).map(|n| {
            println!("{n}");
            ExitCode::SUCCESS
        })
    } else {
        netns::install_sigint_handler();
        netns::remove_stale();
        bench(&args)
    };
    result.unwrap_or_else(|e| {
        eprintln!("sockq-bench: {e}");
        ExitCode::FAILURE
    })
}

/// One benchmark command, split and with its port filled in.
struct Cmd {
    display: String,
    args: Vec<String>,
}

fn commands(args: &Args) -> Result<Vec<Cmd>, BenchError> {
    let raw: Vec<String> = if args.cmds.is_empty() {
        cmdline::DEFAULT_COMMANDS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        args.cmds.clone()
    };
    raw.iter()
        .map(|s| {
            let display = cmdline::substitute_port(s, fleet::FILTER_PORT);
            let args = cmdline::split(&display)?;
            Ok(Cmd { display, args })
        })
        .collect()
}

/// Finds `prog` the way execvp will, for display and an early existence check.
fn resolve(prog: &Path) -> Option<PathBuf> {
    if prog.components().count() > 1 {
        return prog.is_file().then(|| prog.to_path_buf());
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

fn first_line(prog: &Path, arg: &str) -> String {
    Command::new(prog)
        .arg(arg)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_owned())
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".into(), |(_, m)| m.trim().to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or("?".into(), |k| format!("{:.1} GiB", k as f64 / 1048576.0));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cpus} CPUs, {mem} RAM, Linux {}", kernel.trim())
}

fn bench(args: &Args) -> Result<ExitCode, BenchError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(BenchError::Usage(
            "needs root (it creates a network namespace and enters it)".into(),
        ));
    }
    let ss = resolve(&args.ss)
        .ok_or_else(|| BenchError::Usage(format!("ss not found: {}", args.ss.display())))?;
    let sockq = resolve(&args.sockq).ok_or_else(|| {
        BenchError::Usage(format!(
            "sockq not found at {}: build it (cargo build --release) or pass --sockq PATH",
            args.sockq.display()
        ))
    })?;
    let sockq = std::fs::canonicalize(&sockq).unwrap_or(sockq);
    let cmds = commands(args)?;
    let (scales, rounds) = if args.quick {
        (vec![300], 1)
    } else {
        (args.sockets.clone(), args.rounds.max(1))
    };
    let warmup = args.warmup.max(1);
    let ppw = args
        .pairs_per_worker
        .min(fleet::max_pairs_per_worker())
        .max(1);
    let self_check = sockq.file_name().is_some_and(|n| n == "ss");

    println!("## sockq vs ss\n");
    println!("- machine: {}", machine());
    println!("- ss: `{}` ({})", ss.display(), first_line(&ss, "-V"));
    println!(
        "- sockq: `{}` ({})",
        sockq.display(),
        first_line(&sockq, "--version")
    );
    if self_check {
        println!("- **harness self-check: the sockq column runs ss too**");
    }
    println!(
        "- stdout of the timed runs: {} (lines are counted in the warm-up, through a pipe)",
        match args.stdout {
            StdoutMode::Pipe => "a pipe drained by the harness",
            StdoutMode::Null => "/dev/null",
        }
    );
    println!("- filter port `:P` = {}\n", fleet::FILTER_PORT);

    let mut results = Vec::new();
    for &n in &scales {
        netns::check_interrupted()?;
        let r = run_scale(args, n, rounds, warmup, ppw, &ss, &sockq, &cmds)?;
        println!("{}", report::scale_table(&r, rounds, warmup));
        results.push(r);
    }
    if results.len() > 1 {
        println!("{}", report::linearity_table(&results));
    }
    for r in &results {
        print!("{}", report::machine_lines(r));
    }
    let failed = results.iter().any(|r| {
        r.cmds
            .iter()
            .any(|c| c.sockq.first_error().is_some() || c.ss.first_error().is_some())
    });
    Ok(if args.strict && failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Clone, Copy)]
enum Tool {
    Ss,
    Sockq,
}

#[allow(clippy::too_many_arguments)]
fn run_scale(
    args: &Args,
    target: usize,
    rounds: usize,
    warmup: usize,
    ppw: usize,
    ss: &Path,
    sockq: &Path,
    cmds: &[Cmd],
) -> Result<ScaleResult, BenchError> {
    let name = format!("{}{}", netns::PREFIX, std::process::id());
    eprintln!("scale {target}: namespace {name}");
    // Declared before the fleet so it is dropped after it.
    let ns = Netns::create(&name)?;
    let fleet = Fleet::build(&ns, target, ppw)?;
    let mut runner = Runner::new(ns.fd())?;
    let exe: OsString = std::env::current_exe()
        .ctx(|| "locating the bench binary".to_owned())?
        .into();
    let floor_args = |(ext, one_walk): (u8, bool)| {
        let mut v = vec![
            "--floor".to_owned(),
            "--floor-ext".to_owned(),
            ext.to_string(),
        ];
        if one_walk {
            v.push("--floor-one-walk".to_owned());
        }
        v
    };
    let proc_args = |threads: usize| vec!["--proc-floor".to_owned(), threads.to_string()];
    let seen = match runner.run(&exe, &floor_args((0, false)), true)? {
        Ok(s) => s.head.trim().parse().unwrap_or(0),
        Err(e) => return Err(BenchError::Netlink(format!("floor dump failed: {e}"))),
    };
    eprintln!(
        "scale {target}: {} sockets in {:.1} s in {}; the kernel dump sees {seen} TCP sockets",
        fleet.sockets,
        fleet.build_time.as_secs_f64(),
        ns.name()
    );

    let mut results: Vec<CmdResult> = cmds
        .iter()
        .map(|c| CmdResult {
            display: c.display.clone(),
            ss: Series::default(),
            sockq: Series::default(),
            text_twin: if cmdline::is_json(&c.args) {
                let twin = cmdline::text_twin(&c.args);
                cmds.iter().position(|o| o.args == twin)
            } else {
                None
            },
        })
        .collect();
    let mut floors = [
        (
            "TCP, no extensions, two walks (ss `-tan`)",
            floor_args((0u8, false)),
        ),
        (
            "TCP, no extensions, one walk (sockq `-tan`)",
            floor_args((0, true)),
        ),
        (
            "TCP + INFO, VEGAS, CONG, two walks (ss `-tanoie`)",
            floor_args((floor::EXT_INFO, false)),
        ),
        (
            "TCP + INFO, VEGAS, CONG, one walk (sockq `-tanoie`)",
            floor_args((floor::EXT_INFO, true)),
        ),
        (
            "/proc: readlinkat of every fd, one thread (any owner map: `-p`, metrics `comm`)",
            proc_args(1),
        ),
        ("/proc: readlinkat of every fd, two threads", proc_args(2)),
    ]
    .map(|(label, args)| {
        (
            FloorResult {
                label,
                series: Series::default(),
            },
            args,
        )
    });

    let pipe = args.stdout == StdoutMode::Pipe;
    let mut one =
        |runner: &mut Runner, tool: Tool, i: usize, timed: bool| -> Result<(), BenchError> {
            let (Some(cmd), Some(res)) = (cmds.get(i), results.get_mut(i)) else {
                return Ok(());
            };
            let (prog, series) = match tool {
                Tool::Ss => (ss, &mut res.ss),
                Tool::Sockq => (sockq, &mut res.sockq),
            };
            if series.skipped.is_some() {
                return Ok(());
            }
            let counted = !timed || pipe;
            let out = runner.run(prog.as_os_str(), &cmd.args, counted)?;
            netns::check_interrupted()?;
            series.note_output(&out, counted);
            if timed {
                series.runs.push(out);
            } else if let (Tool::Ss, Err(why)) = (tool, out) {
                // ss cannot run it (no --json): leave the ss column empty.
                series.skipped = Some(why);
            }
            Ok(())
        };

    for w in 0..warmup {
        eprintln!("scale {target}: warm-up {}/{warmup}", w + 1);
        for i in 0..cmds.len() {
            one(&mut runner, Tool::Ss, i, false)?;
            one(&mut runner, Tool::Sockq, i, false)?;
        }
        for (f, args) in &mut floors {
            let out = runner.run(&exe, args, true)?;
            f.series.note_output(&out, true);
        }
    }
    for r in 0..rounds {
        eprintln!("scale {target}: round {}/{rounds}", r + 1);
        // Alternate who goes first, so neither always runs on a warmer cache.
        let order = if r % 2 == 0 {
            [Tool::Ss, Tool::Sockq]
        } else {
            [Tool::Sockq, Tool::Ss]
        };
        for i in 0..cmds.len() {
            for tool in order {
                one(&mut runner, tool, i, true)?;
            }
        }
        for (f, args) in &mut floors {
            let out = runner.run(&exe, args, pipe)?;
            f.series.note_output(&out, pipe);
            f.series.runs.push(out);
        }
        netns::check_interrupted()?;
    }
    Ok(ScaleResult {
        target,
        sockets: fleet.sockets,
        tcp_sockets: fleet.tcp_sockets,
        seen,
        workers: fleet.workers(),
        build_secs: fleet.build_time.as_secs_f64(),
        cmds: results,
        floors: floors.map(|(f, _)| f).into_iter().collect(),
    })
}
