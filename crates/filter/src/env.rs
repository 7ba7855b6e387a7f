//! What the filter asks of the host, as a trait the CLI implements.

use sockq_model::{Family, TableSet};

/// Host lookups the filter needs; the CLI implements them (services file,
/// DNS, interfaces, cgroups, passwd).
pub trait Env {
    /// Service name → port. `tcp`/`udp` say which tables are selected (ss
    /// looks in udp if UDP is selected, tcp if TCP; ambiguous if both differ).
    fn service_port(&self, name: &str, tcp: bool, udp: bool) -> Result<Option<u16>, String>;
    /// DNS: every address of a host name (ss uses only the first; sockq all),
    /// restricted to the family if `Some`.
    fn resolve_host(&self, name: &str, family: Option<Family>) -> Vec<std::net::IpAddr>;
    /// Interface name → index.
    fn interface_index(&self, name: &str) -> Option<u32>;
    /// cgroup v2 path → id.
    fn cgroup_id(&self, path: &str) -> Option<u64>;
    /// `ip_local_port_range`, for `autobound` on inet sockets.
    fn ephemeral_ports(&self) -> (u16, u16);
    /// The preferred family from `-4`/`-6`/`-f`/`-x`, used when a value has no family prefix.
    fn preferred_family(&self) -> Option<Family>;
    /// Which tables are selected (for service lookups).
    fn tables(&self) -> TableSet;
    /// User name → uid, for `user NAME`.
    fn user_id(&self, name: &str) -> Option<u32>;
}
