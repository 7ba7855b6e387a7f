//! Network namespaces: entering one on the calling thread, identifying one,
//! and opening a sock_diag socket inside one.
//!
//! `setns(CLONE_NEWNET)` changes only the calling thread, and a netlink
//! socket stays bound to the namespace it was created in. So sockq enters a
//! namespace on a helper thread and never touches the process's own
//! namespace, nor its mount namespace (unlike `ss -N`, nothing is remounted).

use crate::error::Error;
use crate::socket::DiagSocket;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Identity of a network namespace: the `(st_dev, st_ino)` of its nsfs file.
/// Two paths name the same namespace exactly when their ids are equal.
pub type NetnsId = (u64, u64);

/// The id of the namespace behind `path` (`/var/run/netns/NAME`,
/// `/proc/PID/ns/net`, a bind mount of either).
pub fn netns_id(path: &Path) -> Result<NetnsId, Error> {
    let m = std::fs::metadata(path).map_err(|e| {
        Error::io(
            format!("cannot open network namespace {}", path.display()),
            e,
        )
    })?;
    Ok((m.dev(), m.ino()))
}

/// Moves the calling thread into the network namespace behind `path`.
///
/// Needs CAP_SYS_ADMIN over the namespace's user namespace. A file that is
/// not a network namespace gives EINVAL. The thread stays there: call this
/// on a thread of its own.
pub fn enter_netns(path: &Path) -> Result<(), Error> {
    let ctx = || format!("cannot enter network namespace {}", path.display());
    let file = std::fs::File::open(path).map_err(|e| Error::io(ctx(), e))?;
    // SAFETY: `file` is an open descriptor for the whole call; setns only
    // reads it and changes the calling thread's namespace, no memory is shared.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(Error::io(ctx(), std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Opens a sock_diag socket inside the namespace behind `path`, from a
/// short-lived helper thread; the calling thread's namespace is unchanged.
pub fn diag_socket_in(path: &Path) -> Result<DiagSocket, Error> {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter_netns(path)?;
            DiagSocket::new()
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Invalid("namespace helper thread panicked".into())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespace_has_an_id_and_can_be_entered() {
        let id = netns_id(Path::new("/proc/self/ns/net")).unwrap();
        assert_eq!(id, netns_id(Path::new("/proc/thread-self/ns/net")).unwrap());
        // Entering our own namespace is allowed for root only; either way the
        // helper must not change this thread's namespace.
        let _ = diag_socket_in(Path::new("/proc/self/ns/net"));
        assert_eq!(id, netns_id(Path::new("/proc/thread-self/ns/net")).unwrap());
    }

    #[test]
    fn not_a_namespace_is_an_error() {
        let e = enter_netns(Path::new("/no/such/netns")).unwrap_err();
        assert!(e.to_string().contains("/no/such/netns"), "{e}");
    }
}
