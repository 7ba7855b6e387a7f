//! A private network namespace that deletes itself, and SIGINT handling.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{BenchError, Context};

/// Prefix of every namespace this harness creates; the suffix is our pid.
pub const PREFIX: &str = "sockq-bench-";
const RUN_DIR: &str = "/var/run/netns";

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT set a flag instead of killing us, so the guards can clean up.
pub fn install_sigint_handler() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe;
    // the sigaction struct is fully initialised before use.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        // SA_RESTART: blocking reads resume; the flag is polled between steps.
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
    }
}

/// Fails with [`BenchError::Interrupted`] once SIGINT has arrived.
pub fn check_interrupted() -> Result<(), BenchError> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(BenchError::Interrupted)
    } else {
        Ok(())
    }
}

fn ip(args: &[&str]) -> Result<(), BenchError> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ctx(|| format!("running ip {}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BenchError::Command(format!(
            "ip {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A named network namespace (`ip netns add`), deleted on drop.
pub struct Netns {
    name: String,
    file: File,
}

impl Netns {
    /// Creates the namespace, brings `lo` up and opens its handle.
    pub fn create(name: &str) -> Result<Self, BenchError> {
        ip(&["netns", "add", name])?;
        // From here on a failure still deletes the namespace.
        let guard = DeleteOnDrop(name.to_owned());
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        let path = format!("{RUN_DIR}/{name}");
        let file = File::open(&path).ctx(|| format!("opening {path}"))?;
        std::mem::forget(guard);
        Ok(Self {
            name: name.to_owned(),
            file,
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An fd for `setns(2)`; close-on-exec, so timed tools never inherit it.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Runs `f` on a short-lived thread that has entered the namespace.
    ///
    /// Sockets created there stay in the namespace; `/proc/sys/net` opened
    /// there is the namespace's.
    pub fn run_inside<T: Send>(
        &self,
        f: impl FnOnce() -> Result<T, BenchError> + Send,
    ) -> Result<T, BenchError> {
        let fd = self.fd();
        std::thread::scope(|s| {
            s.spawn(move || {
                enter(fd).ctx(|| "setns into the bench namespace".to_owned())?;
                f()
            })
            .join()
            .unwrap_or_else(|_| Err(BenchError::Command("namespace thread panicked".into())))
        })
    }

    /// Writes a sysctl inside the namespace, e.g. `net/ipv4/ip_local_port_range`.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), BenchError> {
        let path = format!("/proc/sys/{key}");
        self.run_inside(|| std::fs::write(&path, value).ctx(|| format!("writing {path}")))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

struct DeleteOnDrop(String);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.0]);
    }
}

/// `setns(fd, CLONE_NEWNET)` for the calling thread; async-signal-safe.
pub fn enter(fd: RawFd) -> io::Result<()> {
    // SAFETY: setns only reads its integer arguments.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Deletes namespaces left by earlier runs whose process is gone (SIGKILL).
pub fn remove_stale() {
    let Ok(dir) = std::fs::read_dir(RUN_DIR) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("removing stale namespace {name}");
            let _ = ip(&["netns", "del", &name]);
        }
    }
}
