//! Container names and images from the runtimes' own state on disk.
//!
//! * podman and CRI-O (containers/storage): `STORE/*-containers/containers.json`
//!   (id, names, image id, and a `metadata` string holding `image-name`),
//!   then `STORE/*-images/images.json` (image names) when the metadata has none.
//! * docker: `/var/lib/docker/containers/ID/config.v2.json` (`Name`, `Config.Image`).
//! * Kubernetes: `/var/log/pods/NAMESPACE_NAME_UID/` names the pod, and
//!   `/var/log/containers/POD_NAMESPACE_CONTAINER-ID.log` the container.
//!
//! Every file is read at most once per [`Containers`] (the cache lives as long
//! as the caller keeps it, normally one run), with a size cap. Anything
//! unreadable or in an unknown layout leaves the name and image `None`: it is
//! never an error.

use serde_json::Value;
use sockq_model::{Container, Pod, Runtime};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most bytes read from one state file (containers.json grows with
/// the number of containers; 32 MiB is tens of thousands of them).
const MAX_STATE: u64 = 32 * 1024 * 1024;
/// The most bytes read from one docker `config.v2.json`.
const MAX_DOCKER: u64 = 4 * 1024 * 1024;
/// The most directory entries looked at under `/var/log/pods` or
/// `/var/log/containers`.
const MAX_ENTRIES: usize = 100_000;

/// Where the runtimes keep their state. [`StateDirs::default`] is the
/// standard root locations; tests point it elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDirs {
    /// containers/storage roots (podman, CRI-O), searched in order.
    pub storage: Vec<PathBuf>,
    /// docker's data root.
    pub docker: PathBuf,
    /// The kubelet's pod log directory.
    pub pod_logs: PathBuf,
    /// The kubelet's container log symlinks.
    pub container_logs: PathBuf,
}

impl Default for StateDirs {
    fn default() -> Self {
        StateDirs {
            storage: vec![PathBuf::from("/var/lib/containers/storage")],
            docker: PathBuf::from("/var/lib/docker"),
            pod_logs: PathBuf::from("/var/log/pods"),
            container_logs: PathBuf::from("/var/log/containers"),
        }
    }
}

/// A containers/storage record, reduced to what is shown.
#[derive(Clone, Debug, Default)]
struct StoreEntry {
    name: Option<String>,
    image_name: Option<String>,
    image_id: Option<String>,
}

/// Per-run cache of container lookups.
#[derive(Debug, Default)]
pub struct Containers {
    dirs: StateDirs,
    /// id → record, from every containers.json, loaded on first use.
    store: Option<HashMap<String, StoreEntry>>,
    /// image id → first name, loaded on first use.
    images: Option<HashMap<String, String>>,
    /// Finished answers by (runtime, id).
    done: HashMap<(Runtime, String), Container>,
    /// pod uid → (namespace, name), loaded on first use.
    pods: Option<HashMap<String, (String, String)>>,
    /// `/var/log/containers` names, loaded on first use.
    k8s_logs: Option<Vec<String>>,
}

impl Containers {
    /// A cache reading the standard locations.
    pub fn new() -> Containers {
        Containers::with_dirs(StateDirs::default())
    }

    /// A cache reading the given locations.
    pub fn with_dirs(dirs: StateDirs) -> Containers {
        Containers {
            dirs,
            ..Containers::default()
        }
    }

    /// The container with this runtime and id, named from the runtime's state
    /// when readable.
    pub fn lookup(&mut self, runtime: Runtime, id: &str) -> Container {
        let key = (runtime, id.to_owned());
        if let Some(c) = self.done.get(&key) {
            return c.clone();
        }
        let mut c = Container {
            runtime,
            id: id.to_owned(),
            name: None,
            image: None,
        };
        match runtime {
            Runtime::Podman | Runtime::CriO => self.fill_from_store(&mut c),
            Runtime::Docker => from_docker(&self.dirs.docker, &mut c),
            Runtime::Containerd => {}
        }
        if c.name.is_none() && matches!(runtime, Runtime::Containerd | Runtime::CriO) {
            c.name = self.k8s_name(id);
        }
        self.done.insert(key, c.clone());
        c
    }

    /// The pod with this uid, named from `/var/log/pods` when it is there.
    pub fn pod(&mut self, uid: &str) -> Pod {
        let dir = self.dirs.pod_logs.clone();
        let pods = self.pods.get_or_insert_with(|| load_pods(&dir));
        let (namespace, name) = match pods.get(uid) {
            Some((ns, n)) => (Some(ns.clone()), Some(n.clone())),
            None => (None, None),
        };
        Pod {
            uid: uid.to_owned(),
            namespace,
            name,
        }
    }

    fn fill_from_store(&mut self, c: &mut Container) {
        let roots = self.dirs.storage.clone();
        let store = self.store.get_or_insert_with(|| load_store(&roots));
        let Some(e) = store.get(&c.id) else { return };
        c.name = e.name.clone();
        c.image = e.image_name.clone();
        let image_id = e.image_id.clone();
        if c.image.is_none()
            && let Some(iid) = image_id
        {
            let images = self.images.get_or_insert_with(|| load_images(&roots));
            c.image = Some(
                images
                    .get(&iid)
                    .cloned()
                    .unwrap_or_else(|| iid.get(..12).unwrap_or(&iid).to_owned()),
            );
        }
    }

    fn k8s_name(&mut self, id: &str) -> Option<String> {
        let dir = self.dirs.container_logs.clone();
        let logs = self.k8s_logs.get_or_insert_with(|| list_names(&dir));
        // POD_NAMESPACE_CONTAINER-ID.log
        let suffix = format!("-{id}.log");
        logs.iter().find_map(|n| {
            let stem = n.strip_suffix(&suffix)?;
            stem.rsplit('_').next().map(str::to_owned)
        })
    }
}

/// Reads at most `cap` bytes of a file; `None` if it is unreadable or larger.
fn read_capped(path: &Path, cap: u64) -> Option<Vec<u8>> {
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(cap.saturating_add(1)).read_to_end(&mut buf).ok()?;
    (buf.len() as u64 <= cap).then_some(buf)
}

fn json(path: &Path, cap: u64) -> Option<Value> {
    serde_json::from_slice(&read_capped(path, cap)?).ok()
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_owned)
}

/// Files named `suffix` in the `*-<kind>` directories of a store root
/// (`overlay-containers/containers.json`, `vfs-containers/…`).
fn store_files(root: &Path, kind: &str, file: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .take(1024)
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(kind)))
        .map(|e| e.path().join(file))
        .collect();
    out.sort();
    out
}

fn load_store(roots: &[PathBuf]) -> HashMap<String, StoreEntry> {
    let mut map = HashMap::new();
    for root in roots {
        for file in store_files(root, "-containers", "containers.json") {
            let Some(Value::Array(list)) = json(&file, MAX_STATE) else {
                continue;
            };
            for v in list {
                let Some(id) = str_field(&v, "id") else {
                    continue;
                };
                let meta: Option<Value> = v
                    .get("metadata")
                    .and_then(Value::as_str)
                    .and_then(|m| serde_json::from_str(m).ok());
                let name = v
                    .get("names")
                    .and_then(Value::as_array)
                    .and_then(|n| n.first())
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| meta.as_ref().and_then(|m| str_field(m, "name")));
                let image_name = meta
                    .as_ref()
                    .and_then(|m| str_field(m, "image-name"))
                    .filter(|s| !s.is_empty());
                let image_id = str_field(&v, "image");
                map.entry(id).or_insert(StoreEntry {
                    name,
                    image_name,
                    image_id,
                });
            }
        }
    }
    map
}

fn load_images(roots: &[PathBuf]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for root in roots {
        for file in store_files(root, "-images", "images.json") {
            let Some(Value::Array(list)) = json(&file, MAX_STATE) else {
                continue;
            };
            for v in list {
                let (Some(id), Some(name)) = (
                    str_field(&v, "id"),
                    v.get("names")
                        .and_then(Value::as_array)
                        .and_then(|n| n.first())
                        .and_then(Value::as_str),
                ) else {
                    continue;
                };
                map.entry(id).or_insert_with(|| name.to_owned());
            }
        }
    }
    map
}

fn from_docker(root: &Path, c: &mut Container) {
    // The id came from a cgroup path and was checked to be hex, so it
    // cannot climb out of the directory.
    let path = root.join("containers").join(&c.id).join("config.v2.json");
    let Some(v) = json(&path, MAX_DOCKER) else {
        return;
    };
    c.name = str_field(&v, "Name").map(|n| n.trim_start_matches('/').to_owned());
    c.image = v
        .get("Config")
        .and_then(|cfg| str_field(cfg, "Image"))
        .or_else(|| str_field(&v, "Image"));
}

/// Directory entry names, bounded.
fn list_names(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.take(MAX_ENTRIES)
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// uid → (namespace, name) from `NAMESPACE_NAME_UID` directory names.
fn load_pods(dir: &Path) -> HashMap<String, (String, String)> {
    let mut map = HashMap::new();
    for n in list_names(dir) {
        let mut parts = n.splitn(3, '_');
        if let (Some(ns), Some(name), Some(uid)) = (parts.next(), parts.next(), parts.next()) {
            map.insert(uid.to_owned(), (ns.to_owned(), name.to_owned()));
        }
    }
    map
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sockq-ctr-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::create_dir_all(&d);
        d
    }

    const ID: &str = "daaf1a2db8785edb689cc67f7bb7fb6ab18a6610a83f8bc0a4efcf6b757c8e3e";
    const IMG: &str = "a3189608c4647e5a490e4b06e799192f8a48b02aafb09c10cbc18d1ffa95894a";

    #[test]
    fn podman_store_and_fallbacks() {
        let d = tmp("podman");
        let st = d.join("storage");
        let _ = std::fs::create_dir_all(st.join("overlay-containers"));
        let _ = std::fs::create_dir_all(st.join("overlay-images"));
        let meta = format!(
            r#"{{\"image-name\":\"localhost/app:1\",\"image-id\":\"{IMG}\",\"name\":\"web\"}}"#
        );
        let other = "1111111111111111111111111111111111111111111111111111111111111111";
        let body = format!(
            r#"[{{"id":"{ID}","names":["web"],"image":"{IMG}","metadata":"{meta}"}},
               {{"id":"{other}","names":["db"],"image":"{IMG}"}}]"#
        );
        std::fs::write(st.join("overlay-containers/containers.json"), body).unwrap();
        std::fs::write(
            st.join("overlay-images/images.json"),
            format!(r#"[{{"id":"{IMG}","names":["localhost/base:2"]}}]"#),
        )
        .unwrap();
        let mut c = Containers::with_dirs(StateDirs {
            storage: vec![st.clone()],
            docker: d.join("docker"),
            pod_logs: d.join("pods"),
            container_logs: d.join("containers"),
        });
        let web = c.lookup(Runtime::Podman, ID);
        assert_eq!(web.name.as_deref(), Some("web"));
        assert_eq!(web.image.as_deref(), Some("localhost/app:1"));
        let db = c.lookup(Runtime::Podman, other);
        assert_eq!(db.name.as_deref(), Some("db"));
        assert_eq!(db.image.as_deref(), Some("localhost/base:2"));
        // Cached: removing the files changes nothing within the run.
        let _ = std::fs::remove_dir_all(&st);
        assert_eq!(c.lookup(Runtime::Podman, ID), web);
        // Unknown id: runtime and id only.
        let none = c.lookup(Runtime::Podman, "2222222222222222");
        assert_eq!((none.name, none.image), (None, None));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn docker_and_k8s_and_garbage() {
        let d = tmp("docker");
        let cdir = d.join("docker/containers").join(ID);
        let _ = std::fs::create_dir_all(&cdir);
        std::fs::write(
            cdir.join("config.v2.json"),
            r#"{"Name":"/web","Image":"sha256:abc","Config":{"Image":"nginx:1.27"}}"#,
        )
        .unwrap();
        let uid = "0d8a6f1c-7e44-4b55-9a61-3c2f6f0e7b12";
        let _ = std::fs::create_dir_all(d.join("pods").join(format!("shop_front-7d9_{uid}")));
        let _ = std::fs::create_dir_all(d.join("containers"));
        std::fs::write(
            d.join("containers")
                .join(format!("front-7d9_shop_nginx-{ID}.log")),
            "",
        )
        .unwrap();
        let bad = d.join("storage/overlay-containers");
        let _ = std::fs::create_dir_all(&bad);
        std::fs::write(bad.join("containers.json"), "{not json").unwrap();
        let mut c = Containers::with_dirs(StateDirs {
            storage: vec![d.join("storage")],
            docker: d.join("docker"),
            pod_logs: d.join("pods"),
            container_logs: d.join("containers"),
        });
        let w = c.lookup(Runtime::Docker, ID);
        assert_eq!(w.name.as_deref(), Some("web"));
        assert_eq!(w.image.as_deref(), Some("nginx:1.27"));
        let k = c.lookup(Runtime::Containerd, ID);
        assert_eq!(k.name.as_deref(), Some("nginx"));
        let p = c.pod(uid);
        assert_eq!(p.namespace.as_deref(), Some("shop"));
        assert_eq!(p.name.as_deref(), Some("front-7d9"));
        assert_eq!(c.pod("nope").name, None);
        let g = c.lookup(Runtime::Podman, ID);
        assert_eq!((g.name, g.image), (None, None));
        let _ = std::fs::remove_dir_all(&d);
    }
}
