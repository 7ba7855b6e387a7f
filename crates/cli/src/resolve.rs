//! `-r`: reverse DNS with a per-run cache and a bounded wait.
//!
//! Each distinct address is looked up once, on a worker thread. The caller
//! waits at most [`PER_LOOKUP`] for one address and [`TOTAL`] for the whole
//! run; an address that does not resolve in time prints as a number. A dead
//! resolver therefore costs at most `TOTAL`, never a hang: the stuck worker
//! threads are simply abandoned when sockq exits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest wait for one address.
pub const PER_LOOKUP: Duration = Duration::from_millis(1500);
/// Longest total time spent waiting for the resolver in one run.
pub const TOTAL: Duration = Duration::from_secs(5);

/// A caching reverse resolver.
pub struct Resolver {
    cache: Mutex<HashMap<IpAddr, Option<Arc<str>>>>,
    spent: Mutex<Duration>,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::new()
    }
}

impl Resolver {
    /// An empty resolver.
    pub fn new() -> Resolver {
        Resolver {
            cache: Mutex::new(HashMap::new()),
            spent: Mutex::new(Duration::ZERO),
        }
    }

    /// The host name of `addr`, or `None` (unspecified addresses, failures
    /// and timeouts alike).
    pub fn lookup(&self, addr: IpAddr) -> Option<Arc<str>> {
        if addr.is_unspecified() {
            return None;
        }
        if let Ok(c) = self.cache.lock()
            && let Some(hit) = c.get(&addr)
        {
            return hit.clone();
        }
        let budget = {
            let spent = self.spent.lock().map(|s| *s).unwrap_or(TOTAL);
            TOTAL.saturating_sub(spent).min(PER_LOOKUP)
        };
        let result = if budget.is_zero() {
            None
        } else {
            let (tx, rx) = mpsc::channel();
            let started = Instant::now();
            // A v4-mapped address (`::ffff:127.0.0.1`) is looked up as its
            // IPv4 address, as ss's gethostbyaddr does.
            let query = match addr {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
                v4 => v4,
            };
            std::thread::spawn(move || {
                let _ = tx.send(dns_lookup::lookup_addr(&query).ok());
            });
            let r = rx.recv_timeout(budget).ok().flatten();
            if let Ok(mut s) = self.spent.lock() {
                *s += started.elapsed();
            }
            // getnameinfo returns the numeric form when nothing resolves.
            r.filter(|name| name.parse::<IpAddr>().is_err())
                .map(Arc::from)
        };
        if let Ok(mut c) = self.cache.lock() {
            c.insert(addr, result.clone());
        }
        result
    }
}
