//! A real podman container for the tests that name containers (`-P`, `--all-netns` labels,
//! `--metrics`'s `container` label): busybox-static imported as a local image (no registry),
//! run with runc and `--network none`, so it has a network namespace of its own with only `lo`.
//! `crates/proc/tests/identity.rs` includes this file too (`#[path]`); it needs `must` from
//! the module that includes it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A running container (busybox `httpd` in its own namespace) and its image. Drop removes the
/// container, the image and the image's source tree, whatever happened before.
pub(crate) struct Podman {
    /// The container's name, `sockq-e2e-PID-N`.
    pub(crate) name: String,
    /// The image's name, `localhost/sockq-test-PID-N:1`.
    pub(crate) image: String,
    rootfs: PathBuf,
}

impl Drop for Podman {
    fn drop(&mut self) {
        quiet(Command::new("podman").args(["rm", "-f", "-t", "0", &self.name]));
        quiet(Command::new("podman").args(["rmi", "-f", &self.image]));
        let _ = std::fs::remove_dir_all(&self.rootfs);
    }
}

/// Runs a cleanup command, ignoring how it ends and what it prints.
pub(crate) fn quiet(cmd: &mut Command) {
    let _ = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// True when podman, runc and busybox are installed. Otherwise prints why the test is skipped
/// and returns false, except under `CI=true`, where it panics (scripts/test installs them).
pub(crate) fn podman_or_skip(test: &str) -> bool {
    let missing = if !on_path("podman") {
        "podman"
    } else if !on_path("runc") {
        "runc"
    } else if busybox().is_none() {
        "busybox-static"
    } else {
        return true;
    };
    let reason = format!("skipping {test}: {missing} is not installed");
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("{reason}, and CI=true forbids skipping");
    }
    println!("{reason}");
    false
}

impl Podman {
    /// Imports busybox as a new image and runs `httpd -f -v -p LISTEN -h /www` in a container of
    /// it (`-v`: a line on stderr per request), with the k8s-file log driver (so its output goes through conmon to `ctr.log`).
    /// Check [`podman_or_skip`] first.
    pub(crate) fn httpd(listen: &str) -> Podman {
        Podman::httpd_logging(listen, "k8s-file", Command::new("podman"))
    }

    /// [`Podman::httpd`] with another log driver, `podman run` started by `podman` (a command
    /// that runs podman, such as `nsenter -t PID -m podman` to run it in another mount
    /// namespace, where conmon then stays).
    pub(crate) fn httpd_logging(listen: &str, driver: &str, mut podman: Command) -> Podman {
        static N: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let p = Podman {
            name: format!("sockq-e2e-{tag}"),
            image: format!("localhost/sockq-test-{tag}:1"),
            rootfs: std::env::temp_dir().join(format!("sockq-rootfs-{tag}")),
        };
        let bin = p.rootfs.join("bin");
        for d in [bin.clone(), p.rootfs.join("www")] {
            std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        std::fs::write(p.rootfs.join("www/index.html"), "ok\n").unwrap_or_default();
        let bb = busybox().unwrap_or_else(|| panic!("busybox is not installed"));
        std::fs::copy(bb, bin.join("busybox")).unwrap_or_else(|e| panic!("copy busybox: {e}"));
        for a in ["sh", "httpd"] {
            std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap_or_default();
        }
        must(Command::new("sh").arg("-c").arg(format!(
            "tar -C '{}' -c . | podman import - '{}'",
            p.rootfs.display(),
            p.image
        )));
        must(podman.args([
            "run",
            "-d",
            "--name",
            &p.name,
            "--runtime",
            "runc",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "--network",
            "none",
            "--log-driver",
            driver,
            &p.image,
            "/bin/httpd",
            "-f",
            "-v",
            "-p",
            listen,
            "-h",
            "/www",
        ]));
        p
    }

    /// `podman inspect -f FORMAT NAME`, trimmed: what podman itself says about the container.
    pub(crate) fn inspect(&self, format: &str) -> String {
        must(Command::new("podman").args(["inspect", "-f", format, &self.name]))
            .trim()
            .to_owned()
    }

    /// The container's main process, as podman reports it.
    pub(crate) fn pid(&self) -> u32 {
        let pid = self.inspect("{{.State.Pid}}");
        pid.parse()
            .unwrap_or_else(|_| panic!("podman inspect: pid {pid:?}"))
    }
}
