//! Values: ports, hosts, marks and numbers, read as ss reads them.

use crate::env::Env;
use crate::error::CompileErrorKind;
use crate::glob::Glob;
use crate::names;
use crate::node::HostCond;
use sockq_model::{Family, Table};
use std::net::{IpAddr, Ipv6Addr};

type R<T> = Result<T, CompileErrorKind>;

/// `strtoul(s, 0)` over the whole string: `0x` hex, leading-`0` octal, decimal.
pub fn number(s: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A base-0 number that must fit a u32.
pub fn number_u32(s: &str) -> R<u32> {
    match number(s) {
        Some(n) => u32::try_from(n).map_err(|_| CompileErrorKind::BadNumber(s.to_string())),
        None => Err(CompileErrorKind::BadNumber(s.to_string())),
    }
}

/// A value wrapped in matching quotes (`':80'`): the quotes reached the
/// expression because the shell saw them inside other quotes.
pub fn quoted(v: &str) -> Option<CompileErrorKind> {
    let q = v.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let inner = v.strip_prefix(q)?.strip_suffix(q)?;
    Some(CompileErrorKind::Quoted {
        value: v.to_string(),
        inner: inner.to_string(),
    })
}

/// A port part after one optional leading `:`. `None` is any port.
/// `max` is 65535 for real ports; `src :INODE` allows larger (ss's unix inode trick).
pub fn port(s: &str, env: &dyn Env, max: u64) -> R<Option<u32>> {
    if let Some(e) = quoted(s) {
        return Err(e);
    }
    let p = s.strip_prefix(':').unwrap_or(s);
    if p.is_empty() || p == "*" || p == "-1" {
        return Ok(None);
    }
    if let Some(n) = number(p) {
        if n > max {
            return Err(CompileErrorKind::PortRange(p.to_string()));
        }
        return Ok(Some(n as u32));
    }
    if p.starts_with(|c: char| c.is_ascii_digit()) && !p.contains(['.', ':', '/', '[']) {
        return Err(CompileErrorKind::NotAPort(p.to_string()));
    }
    if p.contains([':', '/', '[', ']']) || p.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(CompileErrorKind::AddressAsPort(p.to_string()));
    }
    let tables = env.tables();
    let tcp = tables.contains(Table::Tcp);
    let udp = tables.contains(Table::Udp);
    match env.service_port(p, tcp, udp) {
        Ok(Some(n)) => Ok(Some(u32::from(n))),
        Ok(None) => Err(CompileErrorKind::UnknownService(p.to_string())),
        Err(m) => Err(CompileErrorKind::Service(m)),
    }
}

/// ss's IPv4 reader: one to four base-0 parts, missing parts zero on the right.
fn ipv4_short(s: &str) -> R<[u8; 4]> {
    let mut out = [0u8; 4];
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return Err(CompileErrorKind::BadAddress(format!(
            "\"{s}\" has more than four parts"
        )));
    }
    for (i, part) in parts.iter().enumerate() {
        let n = number(part).ok_or_else(|| {
            CompileErrorKind::BadAddress(format!("\"{part}\" is not a number in \"{s}\""))
        })?;
        let byte = u8::try_from(n).map_err(|_| {
            CompileErrorKind::BadAddress(format!("{part} is more than 255 in \"{s}\""))
        })?;
        if let Some(o) = out.get_mut(i) {
            *o = byte;
        }
    }
    Ok(out)
}

/// An address with an optional `/LEN` (get_prefix_1). `Ok(None)` means the
/// text is not address-like at all (perhaps a host name).
fn prefix(s: &str, fam: Option<Family>) -> R<Option<HostCond>> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    if matches!(addr, "default" | "all" | "any") {
        return Ok(Some(HostCond::any(fam, None)));
    }
    let (family, bytes, max): (Family, [u8; 16], u64) = if addr.contains(':') {
        let a: Ipv6Addr = addr.parse().map_err(|_| {
            CompileErrorKind::BadAddress(format!("\"{addr}\" is not an IPv6 address"))
        })?;
        (Family::Inet6, a.octets(), 128)
    } else if addr.starts_with(|c: char| c.is_ascii_digit()) {
        let v4 = ipv4_short(addr)?;
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&v4);
        (Family::Inet, b, 32)
    } else {
        return Ok(None);
    };
    match fam {
        Some(f @ (Family::Inet | Family::Inet6)) if f != family => {
            return Err(CompileErrorKind::WrongFamily {
                value: addr.to_string(),
                family: f.name(),
            });
        }
        _ => {}
    }
    let plen = match len {
        None => max,
        Some(l) => match number(l) {
            Some(n) if n <= max => n,
            _ => {
                return Err(CompileErrorKind::BadAddress(format!(
                    "prefix length \"{l}\" is not 0 to {max}"
                )));
            }
        },
    };
    Ok(Some(HostCond::Inet {
        family: Some(family),
        plen: plen as u8,
        addr: bytes,
        port: None,
    }))
}

fn looks_like_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && s.chars().any(|c| c.is_ascii_alphabetic())
}

/// Ports above 65535 are only ss's `src :INODE` trick; after a real address
/// they can never match, so they are an error rather than an empty result.
fn inet_port(port: Option<u32>, written: &str) -> R<Option<u32>> {
    match port {
        Some(n) if n > u32::from(u16::MAX) => Err(CompileErrorKind::PortRange(
            written.strip_prefix(':').unwrap_or(written).to_string(),
        )),
        p => Ok(p),
    }
}

/// An inet value `ADDR[/LEN][:PORT]`, `[ADDR[/LEN]][:PORT]`, `*[:PORT]`,
/// a host name, or (sockq) an unbracketed IPv6 address.
fn inet(v: &str, fam: Option<Family>, env: &dyn Env) -> R<Vec<HostCond>> {
    let (addr, port_part, bracketed) = if let Some(rest) = v.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| CompileErrorKind::BadAddress(format!("\"{v}\" has no closing `]`")))?;
        let after = rest.get(close + 1..).unwrap_or("");
        if !after.is_empty() && !after.starts_with(':') {
            return Err(CompileErrorKind::AfterBracket(after.to_string()));
        }
        (rest.get(..close).unwrap_or(""), after, true)
    } else if let Some(rest) = v.strip_prefix('*') {
        ("", rest, false)
    } else {
        let from = v.find('/').unwrap_or(0);
        match v.get(from..).and_then(|t| t.rfind(':')) {
            Some(i) => (
                v.get(..from + i).unwrap_or(""),
                v.get(from + i..).unwrap_or(""),
                false,
            ),
            None => (v, "", false),
        }
    };
    let split = (|| -> R<Vec<HostCond>> {
        let port = port(port_part, env, u64::from(u32::MAX))?;
        if addr.is_empty() || addr == "*" {
            return Ok(vec![HostCond::any(fam, port)]);
        }
        if let Some(c) = prefix(addr, fam)? {
            return Ok(vec![c.with_port(inet_port(port, port_part)?)]);
        }
        Err(CompileErrorKind::BadAddress(format!(
            "\"{addr}\" is not an address"
        )))
    })();
    let e = match split {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    // sockq: an unbracketed IPv6 address (`::1`, `fe80::1/64`) when ss's split fails.
    if !bracketed
        && v.matches(':').count() >= 2
        && let Ok(Some(c)) = prefix(v, fam)
    {
        return Ok(vec![c]);
    }
    if !bracketed && looks_like_host_name(addr) {
        let port = inet_port(port(port_part, env, u64::from(u32::MAX))?, port_part)?;
        let want = match fam {
            Some(f @ (Family::Inet | Family::Inet6)) => Some(f),
            _ => None,
        };
        let mut addrs = env.resolve_host(addr, want);
        addrs.dedup();
        if addrs.is_empty() {
            return Err(CompileErrorKind::UnknownHost(addr.to_string()));
        }
        return Ok(addrs
            .into_iter()
            .map(|a| {
                let (family, plen, bytes) = match a {
                    IpAddr::V4(x) => {
                        let mut b = [0u8; 16];
                        b[..4].copy_from_slice(&x.octets());
                        (Family::Inet, 32, b)
                    }
                    IpAddr::V6(x) => (Family::Inet6, 128, x.octets()),
                };
                HostCond::Inet {
                    family: Some(family),
                    plen,
                    addr: bytes,
                    port,
                }
            })
            .collect());
    }
    Err(e)
}

fn any_or<T>(s: &str, f: impl FnOnce(&str) -> R<T>) -> R<Option<T>> {
    if s.is_empty() || s == "*" {
        Ok(None)
    } else {
        f(s).map(Some)
    }
}

fn packet(v: &str, env: &dyn Env) -> R<HostCond> {
    let (proto, iface) = v.split_once(':').unwrap_or((v, ""));
    let proto = any_or(proto, |p| match number(p) {
        Some(n) => u16::try_from(n).map_err(|_| CompileErrorKind::BadNumber(p.to_string())),
        None => names::ethertype(p).ok_or_else(|| CompileErrorKind::UnknownName {
            what: "ethertype",
            name: p.to_string(),
        }),
    })?;
    let ifindex = any_or(iface, |i| match number(i) {
        Some(n) => u32::try_from(n).map_err(|_| CompileErrorKind::BadNumber(i.to_string())),
        None => env
            .interface_index(i)
            .ok_or_else(|| CompileErrorKind::UnknownInterface(i.to_string())),
    })?;
    Ok(HostCond::Packet { proto, ifindex })
}

fn netlink(v: &str) -> R<HostCond> {
    let (proto, portid) = v.split_once(':').unwrap_or((v, ""));
    let proto = any_or(proto, |p| match number(p) {
        Some(n) => u8::try_from(n).map_err(|_| CompileErrorKind::BadNumber(p.to_string())),
        None => names::netlink_protocol(p).ok_or_else(|| CompileErrorKind::UnknownName {
            what: "netlink protocol",
            name: p.to_string(),
        }),
    })?;
    let portid = any_or(portid, |p| {
        if p == "kernel" {
            return Ok(0);
        }
        if let Some(neg) = p.strip_prefix('-') {
            return number(neg)
                .and_then(|n| i64::try_from(n).ok())
                .map(|n| -n)
                .ok_or_else(|| CompileErrorKind::BadNumber(p.to_string()));
        }
        number_u32(p).map(i64::from)
    })?;
    Ok(HostCond::Netlink { proto, portid })
}

fn vsock(v: &str) -> R<HostCond> {
    let (cid, port) = v.split_once(':').unwrap_or((v, ""));
    Ok(HostCond::Vsock {
        cid: any_or(cid, number_u32)?,
        port: any_or(port, number_u32)?,
    })
}

/// A `src`/`dst` value. Returns the conditions (ORed) and the family named
/// by an explicit prefix, if any.
pub fn host(v: &str, env: &dyn Env) -> R<(Vec<HostCond>, Option<Family>)> {
    const PREFIXES: [(&str, Family); 6] = [
        ("unix:", Family::Unix),
        ("link:", Family::Packet),
        ("netlink:", Family::Netlink),
        ("vsock:", Family::Vsock),
        ("inet:", Family::Inet),
        ("inet6:", Family::Inet6),
    ];
    let (fam, rest, explicit) = match PREFIXES
        .iter()
        .find_map(|(p, f)| v.strip_prefix(p).map(|r| (*f, r)))
    {
        Some((f, r)) => (Some(f), r, true),
        None => (env.preferred_family(), v, false),
    };
    let conds = match fam {
        Some(Family::Unix) => vec![HostCond::Unix(Glob::new(rest, true))],
        Some(Family::Packet) => vec![packet(rest, env)?],
        Some(Family::Netlink) => vec![netlink(rest)?],
        Some(Family::Vsock) => vec![vsock(rest)?],
        Some(f @ (Family::Inet | Family::Inet6)) => inet(rest, Some(f), env)?,
        _ => inet(rest, None, env)?,
    };
    Ok((conds, if explicit { fam } else { None }))
}

/// `fwmark` values: `MARK` or `MARK/MASK`, each base 0.
pub fn mark(v: &str) -> R<(u32, u32)> {
    let bad = || CompileErrorKind::BadMark(v.to_string());
    match v.split_once('/') {
        Some((m, k)) => Ok((
            number_u32(m).map_err(|_| bad())?,
            number_u32(k).map_err(|_| bad())?,
        )),
        None => Ok((number_u32(v).map_err(|_| bad())?, u32::MAX)),
    }
}
