//! Runs one command inside the namespace and measures it: wall time, CPU
//! time and peak RSS from `wait4`, and the bytes and lines it printed.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::RawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{BenchError, Context};
use crate::netns;

/// Where the timed command's stdout goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StdoutMode {
    /// A pipe the harness drains, counting bytes and lines.
    Pipe,
    /// `/dev/null`: nothing is counted.
    Null,
}

/// One successful run.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Spawn to reap.
    pub wall: Duration,
    /// User + system CPU of the child.
    pub cpu: Duration,
    /// Peak resident set size, KiB.
    pub maxrss_kib: u64,
    /// Bytes written to stdout (0 with `--stdout null`).
    pub bytes: u64,
    /// Lines written to stdout.
    pub lines: u64,
    /// The first bytes of stdout (the floor prints its count there).
    pub head: String,
}

/// A run that succeeded or the reason it did not.
pub type Outcome = Result<Sample, String>;

/// Spawns commands inside one namespace; owns a scratch file for stderr.
pub struct Runner {
    ns_fd: RawFd,
    stderr: File,
    buf: Vec<u8>,
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

impl Runner {
    /// A runner for the namespace behind `ns_fd`.
    pub fn new(ns_fd: RawFd) -> Result<Self, BenchError> {
        let path = std::env::temp_dir().join(format!("sockq-bench-{}.stderr", std::process::id()));
        let stderr = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .ctx(|| format!("creating {}", path.display()))?;
        // Unlinked at once: nothing is left behind whatever happens.
        let _ = std::fs::remove_file(&path);
        Ok(Self {
            ns_fd,
            stderr,
            buf: vec![0; 1 << 18],
        })
    }

    /// Runs `program args` in the namespace and waits for it.
    ///
    /// With `pipe`, stdout is drained and counted; otherwise it goes to
    /// `/dev/null`. `Err` is for harness failures; a command that fails is
    /// an `Ok(Err(..))`.
    pub fn run(
        &mut self,
        program: &OsStr,
        args: &[String],
        pipe: bool,
    ) -> Result<Outcome, BenchError> {
        self.stderr.set_len(0).ctx(|| "stderr file".to_owned())?;
        self.stderr
            .seek(SeekFrom::Start(0))
            .ctx(|| "stderr file".to_owned())?;
        let err = self.stderr.try_clone().ctx(|| "stderr file".to_owned())?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::from(err))
            .stdout(if pipe { Stdio::piped() } else { Stdio::null() });
        let ns_fd = self.ns_fd;
        // SAFETY: only setns (async-signal-safe) runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || netns::enter(ns_fd));
        }
        let start = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Ok(Err(format!(
                    "cannot run {}: {e}",
                    program.to_string_lossy()
                )));
            }
        };
        let (mut bytes, mut lines) = (0u64, 0u64);
        let mut head = Vec::new();
        if let Some(mut out) = child.stdout.take() {
            loop {
                match out.read(&mut self.buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let chunk = self.buf.get(..n).unwrap_or_default();
                        bytes += n as u64;
                        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                        if head.len() < 256 {
                            head.extend_from_slice(chunk.get(..n.min(256)).unwrap_or_default());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e).ctx(|| "reading child stdout".to_owned()),
                }
            }
        }
        let pid = child.id() as libc::pid_t;
        let mut status: libc::c_int = 0;
        // SAFETY: zeroed rusage is a valid value; wait4 fills it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: pid is our unreaped child; both pointers are live.
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
            if r == pid {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e).ctx(|| "wait4".to_owned());
            }
        }
        let wall = start.elapsed();
        // `child` was reaped by wait4; dropping a std Child never waits.
        drop(child);
        let status = ExitStatus::from_raw(status);
        if !status.success() {
            let mut msg = String::new();
            let _ = self.stderr.seek(SeekFrom::Start(0));
            let _ = (&self.stderr).take(4096).read_to_string(&mut msg);
            let first = msg.lines().next().unwrap_or("").trim().to_owned();
            return Ok(Err(match (status.code(), status.signal()) {
                (Some(c), _) if first.is_empty() => format!("exit {c}"),
                (Some(c), _) => format!("exit {c}: {first}"),
                (None, Some(s)) => format!("killed by signal {s}"),
                _ => "failed".to_owned(),
            }));
        }
        head.truncate(256);
        Ok(Ok(Sample {
            wall,
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            maxrss_kib: ru.ru_maxrss.max(0) as u64,
            bytes,
            lines,
            head: String::from_utf8_lossy(&head).into_owned(),
        }))
    }
}
