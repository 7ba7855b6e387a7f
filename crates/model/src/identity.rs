//! Who a process is: its systemd unit and its container, as read from
//! `/proc/PID/cgroup` and the container runtime's own state on disk.

use std::fmt;

/// The service identity of a process. Every part is optional: a process on a
/// plain host may have neither a unit nor a container.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct Identity {
    /// The systemd unit the process runs in (`nginx.service`,
    /// `session-3.scope`, `user@1000.service`, or the innermost unit of a
    /// user manager such as `app.service`).
    pub unit: Option<String>,
    /// `Some(uid)` when [`Identity::unit`] belongs to the user manager of
    /// `uid` (`journalctl --user -u` territory), `None` for system units.
    pub user_unit: Option<u32>,
    /// The innermost slice above the unit (`system.slice`, `user-1000.slice`).
    pub slice: Option<String>,
    /// The container the process runs in.
    pub container: Option<Container>,
    /// The Kubernetes pod, when the cgroup path names one.
    pub pod: Option<Pod>,
}

impl Identity {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.unit.is_none() && self.container.is_none() && self.pod.is_none()
    }

    /// What kind of unit [`Identity::unit`] is, from its suffix.
    pub fn unit_kind(&self) -> Option<UnitKind> {
        self.unit.as_deref().map(UnitKind::of)
    }
}

/// The kind of a systemd unit, from the suffix of its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnitKind {
    /// `*.service`
    Service,
    /// `*.scope` (sessions, containers started by a manager, `systemd-run --scope`)
    Scope,
    /// `*.slice`
    Slice,
    /// Anything else (`*.socket`, `*.mount`, …).
    Other,
}

impl UnitKind {
    /// The kind of a unit name.
    pub fn of(unit: &str) -> UnitKind {
        if unit.ends_with(".service") {
            UnitKind::Service
        } else if unit.ends_with(".scope") {
            UnitKind::Scope
        } else if unit.ends_with(".slice") {
            UnitKind::Slice
        } else {
            UnitKind::Other
        }
    }

    /// `service`, `scope`, `slice` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Service => "service",
            UnitKind::Scope => "scope",
            UnitKind::Slice => "slice",
            UnitKind::Other => "other",
        }
    }
}

/// A container runtime, as recognised from the cgroup path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// podman (`libpod-ID`).
    Podman,
    /// docker (`docker-ID.scope`, `/docker/ID`).
    Docker,
    /// containerd's CRI plugin (`cri-containerd-ID.scope`).
    Containerd,
    /// CRI-O (`crio-ID.scope`).
    CriO,
}

impl Runtime {
    /// `podman`, `docker`, `containerd` or `cri-o`: the prefix of labels
    /// such as `podman:web`.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Podman => "podman",
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container. `name` and `image` come from the runtime's state on disk
/// and are `None` when it cannot be read (another layout, no permission).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Container {
    /// The runtime that started it.
    pub runtime: Runtime,
    /// The full id (normally 64 hex digits), as it appears in the cgroup path.
    pub id: String,
    /// The container's name (`web`), without docker's leading `/`.
    pub name: Option<String>,
    /// The image's name (`localhost/app:1`), or its id when it has no name.
    pub image: Option<String>,
}

impl Container {
    /// The first 12 characters of the id, as `podman ps` and `docker ps` show it.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }

    /// The name if known, else the short id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.short_id())
    }

    /// `runtime:name` (or `runtime:shortid`), e.g. `podman:web`: the label of
    /// the container's network namespace.
    pub fn label(&self) -> String {
        format!("{}:{}", self.runtime.as_str(), self.display_name())
    }
}

/// A Kubernetes pod, from `kubepods…pod<UID>` in the cgroup path and the
/// `/var/log/pods/NAMESPACE_NAME_UID` directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pod {
    /// The pod's uid (dashes restored).
    pub uid: String,
    /// The namespace, when `/var/log/pods` names the pod.
    pub namespace: Option<String>,
    /// The pod's name, when `/var/log/pods` names the pod.
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_kinds() {
        let c = Container {
            runtime: Runtime::Podman,
            id: "0123456789abcdef0123".into(),
            name: None,
            image: None,
        };
        assert_eq!(c.short_id(), "0123456789ab");
        assert_eq!(c.label(), "podman:0123456789ab");
        let c = Container {
            name: Some("web".into()),
            ..c
        };
        assert_eq!(c.label(), "podman:web");
        assert_eq!(UnitKind::of("a.service"), UnitKind::Service);
        assert_eq!(UnitKind::of("session-2.scope"), UnitKind::Scope);
        assert_eq!(UnitKind::of("system.slice"), UnitKind::Slice);
        assert_eq!(UnitKind::of("x.socket"), UnitKind::Other);
        let short = Container {
            runtime: Runtime::Docker,
            id: "abc".into(),
            name: None,
            image: None,
        };
        assert_eq!(short.short_id(), "abc");
    }
}
