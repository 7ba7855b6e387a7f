//! `/proc/PID/cgroup` → systemd unit and container id. Pure parsing: no I/O.
//!
//! The unit comes from the unified (v2) path, or from the v1 `name=systemd`
//! hierarchy when the unified path is `/` (hybrid layouts keep systemd's
//! tree there). The container comes from the first of the unified path, the
//! `name=systemd` path and the other v1 controllers that names one (docker's
//! cgroupfs driver on v1 writes `/docker/ID` in every controller).
//!
//! The file is read as bytes: a cgroup directory may be named with any
//! bytes. Only path components that are UTF-8 are looked at; the others are
//! never a unit, slice, container id or pod (systemd's unit names are ASCII,
//! it writes any other byte as `\xNN` itself; ids and pod uids are hex), so
//! they are skipped like any delegated sub-group, never converted with
//! U+FFFD into a name that was not on the system. The unit and container
//! reach the printers as `String`s, escaped there like every system string.

use sockq_model::Runtime;

/// What a cgroup file says about a process, before the runtime's state is read.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct CgroupFacts {
    /// The innermost unit.
    pub unit: Option<String>,
    /// The uid of the user manager the unit runs under.
    pub user_unit: Option<u32>,
    /// The innermost slice above the unit.
    pub slice: Option<String>,
    /// Runtime and full id.
    pub container: Option<(Runtime, String)>,
    /// Kubernetes pod uid (dashes restored).
    pub pod_uid: Option<String>,
}

/// Unit name suffixes other than `.slice`.
const UNIT_SUFFIXES: [&str; 5] = [".service", ".scope", ".socket", ".mount", ".swap"];

/// Parses the contents of `/proc/PID/cgroup`.
pub(crate) fn parse(text: &[u8]) -> CgroupFacts {
    let mut unified = None;
    let mut named = None;
    let mut others = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (Some(id), Some(ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id == b"0" && ctrl.is_empty() {
            unified = Some(path);
        } else if ctrl.split(|&b| b == b',').any(|c| c == b"name=systemd") {
            named = Some(path);
        } else if others.len() < 32 {
            others.push(path);
        }
    }
    let systemd_path = match unified {
        Some(p) if p != b"/" => Some(p),
        _ => named.or(unified),
    };
    let mut facts = CgroupFacts::default();
    if let Some(p) = systemd_path {
        unit_of(p, &mut facts);
    }
    for p in unified.into_iter().chain(named).chain(others) {
        let (container, pod) = container_of(p);
        if facts.pod_uid.is_none() {
            facts.pod_uid = pod;
        }
        if container.is_some() {
            facts.container = container;
            break;
        }
    }
    facts
}

/// The non-empty components of a cgroup path that are UTF-8 (see the
/// module docs for why the others never name anything).
fn components(path: &[u8]) -> impl Iterator<Item = &str> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .filter_map(|c| std::str::from_utf8(c).ok())
}

/// The innermost unit and slice of a systemd cgroup path.
fn unit_of(path: &[u8], facts: &mut CgroupFacts) {
    let mut unit: Option<&str> = None;
    let mut slice: Option<&str> = None;
    let mut user = None;
    for comp in components(path) {
        if comp.ends_with(".slice") {
            // A slice below the unit is a sub-tree of a user manager
            // (`user@1000.service/app.slice/…`): keep it as the slice.
            slice = Some(comp);
        } else if UNIT_SUFFIXES.iter().any(|s| comp.ends_with(s)) {
            if let Some(uid) = comp
                .strip_prefix("user@")
                .and_then(|r| r.strip_suffix(".service"))
                .and_then(|u| u.parse::<u32>().ok())
            {
                user = Some(uid);
            }
            unit = Some(comp);
        }
        // Other components are delegated sub-groups of the unit (a
        // container manager's own tree, `payload`, …): the unit stays.
    }
    if unit.is_none() {
        unit = slice.take().filter(|s| *s != "-.slice");
    }
    // The user manager itself is a system unit; units under it are user units.
    facts.user_unit = match (user, unit) {
        (Some(uid), Some(u)) if u != format!("user@{uid}.service") => Some(uid),
        _ => None,
    };
    facts.unit = unit.map(str::to_owned);
    facts.slice = slice.map(str::to_owned);
}

/// Whether `s` is a plausible container id: 12 to 128 lowercase hex digits.
fn is_id(s: &str) -> bool {
    (12..=128).contains(&s.len()) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The container (runtime, id) and pod uid named by one cgroup path.
fn container_of(path: &[u8]) -> (Option<(Runtime, String)>, Option<String>) {
    let mut pod = None;
    let mut prev = "";
    let mut found = None;
    for comp in components(path) {
        if let Some(uid) = pod_uid(comp) {
            pod = Some(uid);
        }
        let bare = comp.strip_suffix(".scope").unwrap_or(comp);
        let hit = if let Some(id) = bare.strip_prefix("libpod-") {
            // `libpod-conmon-ID.scope` is podman's monitor, not the container.
            is_id(id).then_some((Runtime::Podman, id))
        } else if let Some(id) = bare.strip_prefix("docker-") {
            is_id(id).then_some((Runtime::Docker, id))
        } else if let Some(id) = bare.strip_prefix("cri-containerd-") {
            is_id(id).then_some((Runtime::Containerd, id))
        } else if let Some(id) = bare.strip_prefix("crio-") {
            is_id(id).then_some((Runtime::CriO, id))
        } else if prev == "docker" && is_id(comp) {
            Some((Runtime::Docker, comp))
        } else {
            None
        };
        if let Some((rt, id)) = hit {
            found = Some((rt, id.to_owned()));
        }
        prev = comp;
    }
    (found, pod)
}

/// The pod uid in a `kubepods…pod<UID>[.slice]` component. The systemd
/// driver writes the uid's dashes as underscores.
fn pod_uid(comp: &str) -> Option<String> {
    if !comp.starts_with("kubepods") && !comp.starts_with("pod") {
        return None;
    }
    let bare = comp.strip_suffix(".slice").unwrap_or(comp);
    let at = bare.rfind("pod")?;
    let uid = bare.get(at.checked_add(3)?..)?;
    let ok = uid.len() >= 32
        && uid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    ok.then(|| uid.replace('_', "-"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ID: &str = "daaf1a2db8785edb689cc67f7bb7fb6ab18a6610a83f8bc0a4efcf6b757c8e3e";

    fn facts(text: &str) -> CgroupFacts {
        parse(text.as_bytes())
    }

    #[test]
    fn bytes_that_are_not_utf8_never_become_a_name() {
        // A sub-group below the unit, named with 0xff: the unit stays.
        let f = parse(b"0::/system.slice/nginx.service/w\xff\n");
        assert_eq!(f.unit.as_deref(), Some("nginx.service"));
        // `\xff.service` is no unit systemd could make: not U+FFFD.service.
        let f = parse(b"0::/system.slice/a\xff.service\n");
        assert_eq!(f.unit.as_deref(), Some("system.slice"));
        assert!(!format!("{f:?}").contains('\u{fffd}'), "{f:?}");
        // A 0xff elsewhere in the file does not hide the unified line.
        let f = parse(b"5:cpu:/x\xff\n0::/system.slice/b.service\n");
        assert_eq!(f.unit.as_deref(), Some("b.service"));
        // A container id below a bad component is still found.
        let mut raw = b"0::/\xfe/".to_vec();
        raw.extend_from_slice(format!("docker-{ID}.scope\n").as_bytes());
        assert_eq!(
            parse(&raw).container,
            Some((Runtime::Docker, ID.to_owned()))
        );
    }

    #[test]
    fn systemd_units() {
        let f = facts("0::/system.slice/nginx.service\n");
        assert_eq!(f.unit.as_deref(), Some("nginx.service"));
        assert_eq!(f.slice.as_deref(), Some("system.slice"));
        assert_eq!(f.user_unit, None);
        assert_eq!(f.container, None);

        let f = facts("0::/user.slice/user-1000.slice/user@1000.service/app.slice/web.service\n");
        assert_eq!(f.unit.as_deref(), Some("web.service"));
        assert_eq!(f.user_unit, Some(1000));
        assert_eq!(f.slice.as_deref(), Some("app.slice"));

        let f = facts("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n");
        assert_eq!(f.unit.as_deref(), Some("init.scope"));
        assert_eq!(f.user_unit, Some(1000));

        let f = facts("0::/user.slice/user-1000.slice/user@1000.service\n");
        assert_eq!(f.unit.as_deref(), Some("user@1000.service"));
        assert_eq!(f.user_unit, None);

        let f = facts("0::/user.slice/user-1000.slice/session-3.scope\n");
        assert_eq!(f.unit.as_deref(), Some("session-3.scope"));
        assert_eq!(f.slice.as_deref(), Some("user-1000.slice"));

        // A delegated sub-tree keeps its unit.
        let f = facts("0::/system.slice/app.service/payload/x\n");
        assert_eq!(f.unit.as_deref(), Some("app.service"));

        // Only a slice.
        let f = facts("0::/machine.slice\n");
        assert_eq!(f.unit.as_deref(), Some("machine.slice"));
        assert_eq!(f.slice, None);

        // Root and garbage.
        assert_eq!(facts("0::/\n"), CgroupFacts::default());
        assert_eq!(facts(""), CgroupFacts::default());
        assert_eq!(facts("nonsense\n::\n0:\n"), CgroupFacts::default());
    }

    #[test]
    fn hybrid_uses_name_systemd_when_unified_is_root() {
        let f = facts("9:name=systemd:/system.slice/cron.service\n4:memory:/x\n0::/\n");
        assert_eq!(f.unit.as_deref(), Some("cron.service"));
        // v1 only, no unified line.
        let f = facts("1:name=systemd:/system.slice/ssh.service\n2:cpu:/\n");
        assert_eq!(f.unit.as_deref(), Some("ssh.service"));
        // Unified wins when it is set.
        let f = facts("1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n");
        assert_eq!(f.unit.as_deref(), Some("b.service"));
    }

    #[test]
    fn containers() {
        let podman_cgroupfs = format!("0::/libpod_parent/libpod-{ID}\n");
        let f = facts(&podman_cgroupfs);
        assert_eq!(f.container, Some((Runtime::Podman, ID.to_owned())));
        assert_eq!(f.unit, None);

        let f = facts(&format!("0::/machine.slice/libpod-{ID}.scope\n"));
        assert_eq!(f.container, Some((Runtime::Podman, ID.to_owned())));
        assert_eq!(f.unit, Some(format!("libpod-{ID}.scope")));

        let f = facts(&format!("0::/machine.slice/libpod-conmon-{ID}.scope\n"));
        assert_eq!(f.container, None);

        let f = facts(&format!("0::/system.slice/docker-{ID}.scope\n"));
        assert_eq!(f.container, Some((Runtime::Docker, ID.to_owned())));

        let f = facts(&format!(
            "12:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/\n"
        ));
        assert_eq!(f.container, Some((Runtime::Docker, ID.to_owned())));

        let uid = "0d8a6f1c-7e44-4b55-9a61-3c2f6f0e7b12";
        let k8s = format!(
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{ID}.scope\n",
            uid.replace('-', "_")
        );
        let f = facts(&k8s);
        assert_eq!(f.container, Some((Runtime::Containerd, ID.to_owned())));
        assert_eq!(f.pod_uid.as_deref(), Some(uid));

        let f = facts(&format!(
            "0::/kubepods.slice/kubepods-pod{}.slice/crio-{ID}.scope\n",
            uid.replace('-', "_")
        ));
        assert_eq!(f.container, Some((Runtime::CriO, ID.to_owned())));
        assert_eq!(f.pod_uid.as_deref(), Some(uid));

        // cgroupfs driver: /kubepods/burstable/pod<uid>/<id>: pod only.
        let f = facts(&format!("0::/kubepods/burstable/pod{uid}/{ID}\n"));
        assert_eq!(f.container, None);
        assert_eq!(f.pod_uid.as_deref(), Some(uid));

        // Not ids.
        assert_eq!(facts("0::/libpod-xyz\n").container, None);
        assert_eq!(facts("0::/docker/short\n").container, None);
        assert_eq!(facts("0::/docker-ABCDEF0123456789.scope\n").container, None);
    }
}
