//! Service and protocol names from /etc/services and /etc/protocols, read
//! once and only when a port has to be named.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Which /etc/services protocol column to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// `tcp` (also used for MPTCP).
    Tcp,
    /// `udp` (also UDP-Lite).
    Udp,
    /// `dccp`.
    Dccp,
    /// `sctp`.
    Sctp,
}

impl Proto {
    fn from_str(s: &str) -> Option<Proto> {
        Some(match s {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "dccp" => Proto::Dccp,
            "sctp" => Proto::Sctp,
            _ => return None,
        })
    }
}

/// A parsed services database.
#[derive(Debug, Default)]
pub struct Services {
    by_port: HashMap<(u16, Proto), String>,
    by_name: HashMap<(String, Proto), u16>,
}

impl Services {
    /// Parses the text of /etc/services. The first name listed for a port wins,
    /// as getservbyport does; aliases also resolve by name.
    pub fn parse(text: &str) -> Services {
        let mut s = Services::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(pp)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let (Ok(port), Some(proto)) = (port.parse::<u16>(), Proto::from_str(proto)) else {
                continue;
            };
            s.by_port
                .entry((port, proto))
                .or_insert_with(|| name.to_string());
            for n in std::iter::once(name).chain(words) {
                s.by_name.entry((n.to_string(), proto)).or_insert(port);
            }
        }
        s
    }

    /// The process-wide database, read from /etc/services on first use.
    pub fn system() -> &'static Services {
        static DB: OnceLock<Services> = OnceLock::new();
        DB.get_or_init(|| {
            std::fs::read_to_string("/etc/services")
                .map(|t| Services::parse(&t))
                .unwrap_or_default()
        })
    }

    /// The service name of a port.
    pub fn name(&self, port: u16, proto: Proto) -> Option<&str> {
        self.by_port.get(&(port, proto)).map(String::as_str)
    }

    /// The port of a service name.
    pub fn port(&self, name: &str, proto: Proto) -> Option<u16> {
        self.by_name.get(&(name.to_string(), proto)).copied()
    }
}

/// IP protocol names from /etc/protocols, for raw sockets' "port".
pub fn protocol_name(proto: u8) -> Option<&'static str> {
    static DB: OnceLock<HashMap<u8, String>> = OnceLock::new();
    DB.get_or_init(|| {
        let text = std::fs::read_to_string("/etc/protocols").unwrap_or_default();
        let mut m = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut w = line.split_whitespace();
            if let (Some(name), Some(num)) = (w.next(), w.next())
                && let Ok(n) = num.parse::<u8>()
            {
                m.entry(n).or_insert_with(|| name.to_string());
            }
        }
        m
    })
    .get(&proto)
    .map(String::as_str)
}

/// The ephemeral port range (`ip_local_port_range`), 1024–4999 if unreadable,
/// as ss assumes. `PROC_IP_LOCAL_PORT_RANGE` overrides the path.
pub fn ephemeral_range() -> (u16, u16) {
    static R: OnceLock<(u16, u16)> = OnceLock::new();
    *R.get_or_init(|| {
        let path = std::env::var("PROC_IP_LOCAL_PORT_RANGE").unwrap_or_else(|_| {
            let root = std::env::var("PROC_ROOT").unwrap_or_else(|_| "/proc".into());
            format!("{root}/sys/net/ipv4/ip_local_port_range")
        });
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| {
                let mut w = t.split_whitespace().map(|x| x.parse::<u16>());
                match (w.next(), w.next()) {
                    (Some(Ok(a)), Some(Ok(b))) => Some((a, b)),
                    _ => None,
                }
            })
            .unwrap_or((1024, 4999))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_services() {
        let s = Services::parse(
            "http 80/tcp www # web\nhttp 80/udp\nhttp-alt 8080/tcp webcache\nbad line\n",
        );
        assert_eq!(s.name(80, Proto::Tcp), Some("http"));
        assert_eq!(s.port("www", Proto::Tcp), Some(80));
        assert_eq!(s.port("webcache", Proto::Tcp), Some(8080));
        assert_eq!(s.name(8080, Proto::Udp), None);
    }
}
