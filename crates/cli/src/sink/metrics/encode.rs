//! The Prometheus text exposition (format 0.0.4, what node_exporter's
//! textfile collector parses) of a [`Snapshot`], through the official
//! `prometheus-client` encoder: it writes the HELP/TYPE lines and escapes
//! label values (`\`, `"`, newline).
//!
//! Every metric is a gauge: each file is a fresh snapshot of the sockets
//! open now, so even sums such as retransmitted segments go down when
//! sockets close.

use super::Snapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// The whole exposition of `snapshot`.
pub fn encode(snapshot: Snapshot) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition(snapshot)));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

/// A gauge without labels.
fn single<V: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: V,
) -> Result<(), std::fmt::Error> {
    let m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(m)
}

/// The snapshot as a prometheus-client collector, encoded in key order.
struct Exposition(Snapshot);

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exposition")
    }
}

/// One gauge family: a descriptor, then one sample per label set. Empty
/// families are left out.
fn family<'a, L, V, I>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: I,
) -> Result<(), std::fmt::Error>
where
    L: prometheus_client::encoding::EncodeLabelSet + 'a,
    V: prometheus_client::encoding::EncodeGaugeValue,
    I: IntoIterator<Item = (L, V)>,
{
    let mut series = series.into_iter().peekable();
    if series.peek().is_none() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        let f = m.encode_family(&labels)?;
        ConstGauge::new(value).encode(f)?;
    }
    Ok(())
}

impl Collector for Exposition {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let port_text = |p: Option<u16>| p.map_or_else(String::new, |p| p.to_string());
        let listen_labels = |k: &super::ListenKey| {
            let mut l = vec![
                ("netns", s.ns(k.ns).to_string()),
                ("proto", k.proto.to_string()),
                ("address", k.address.clone()),
                ("port", port_text(k.port)),
                ("comm", s.comm(k.comm).to_string()),
                ("user", k.user.clone()),
            ];
            if s.with_identity {
                l.push(("unit", k.unit.clone()));
                l.push(("container", k.container.clone()));
            }
            l
        };
        family(
            &mut enc,
            "sockq_listening",
            "Listening sockets (LISTEN, or UNCONN with a bound port for udp, udplite and raw) by namespace, protocol, local address and port, process names and socket owner; 1 unless sockets share every label (SO_REUSEPORT groups).",
            s.listening
                .iter()
                .map(|(k, v)| (listen_labels(k), v.sockets)),
        )?;
        family(
            &mut enc,
            "sockq_listen_queue_length",
            "Connections waiting in the accept queue of the listening sockets (ss Recv-Q of a LISTEN socket).",
            s.listening
                .iter()
                .filter_map(|(k, v)| Some((listen_labels(k), v.queued?))),
        )?;
        family(
            &mut enc,
            "sockq_listen_queue_limit",
            "Accept queue limit of the listening sockets, the listen() backlog (ss Send-Q of a LISTEN socket).",
            s.listening
                .iter()
                .filter_map(|(k, v)| Some((listen_labels(k), v.limit?))),
        )?;
        let port_labels = |k: &super::PortKey| {
            [
                ("netns", s.ns(k.ns).to_string()),
                ("proto", k.proto.to_string()),
                ("direction", k.direction.as_str().to_string()),
                ("port", k.port.to_string()),
                ("comm", s.comm(k.comm).to_string()),
            ]
        };
        family(
            &mut enc,
            "sockq_connections",
            "Connected sockets by namespace, protocol, state, direction (in: accepted on a local listener, out: otherwise), service port (the listener's port for in, the remote port for out) and process names.",
            s.conns.iter().map(|(k, n)| {
                let [ns, proto, dir, port, comm] = port_labels(&k.port);
                (
                    [
                        ns,
                        proto,
                        ("state", k.state.name().to_string()),
                        dir,
                        port,
                        comm,
                    ],
                    *n,
                )
            }),
        )?;
        family(
            &mut enc,
            "sockq_connection_receive_queue_bytes",
            "Bytes not yet read by the application (Recv-Q), summed over the connected sockets of a service port.",
            s.queues.iter().map(|(k, q)| (port_labels(k), q.recv)),
        )?;
        family(
            &mut enc,
            "sockq_connection_send_queue_bytes",
            "Bytes not yet acknowledged by the peer (Send-Q), summed over the connected sockets of a service port.",
            s.queues.iter().map(|(k, q)| (port_labels(k), q.send)),
        )?;
        if s.have_info {
            family(
                &mut enc,
                "sockq_connection_retransmitted_segments",
                "Segments retransmitted over the life of the open connections (tcpi_total_retrans, with -i), summed per service port; sockets that close leave the sum.",
                s.queues.iter().map(|(k, q)| (port_labels(k), q.retrans)),
            )?;
        }
        single(
            &mut enc,
            "sockq_collection_duration_seconds",
            "How long sockq took to collect these metrics.",
            s.run.duration.as_secs_f64(),
        )?;
        family(
            &mut enc,
            "sockq_collection_sockets",
            "Sockets selected by the command line, by namespace and protocol.",
            s.seen.iter().map(|((ns, t), n)| {
                (
                    [
                        ("netns", s.ns(*ns).to_string()),
                        ("proto", t.netid().into()),
                    ],
                    *n,
                )
            }),
        )?;
        single(
            &mut enc,
            "sockq_collection_process_scan_partial",
            "1 when some processes could not be read (not root): their sockets have an empty comm.",
            u64::from(s.run.unreadable_processes > 0),
        )?;
        single(
            &mut enc,
            "sockq_collection_processes_unreadable",
            "Processes whose open files could not be read.",
            s.run.unreadable_processes as u64,
        )?;
        single(
            &mut enc,
            "sockq_collection_netns_failed",
            "Network namespaces that could not be dumped (--all-netns).",
            s.run.failed_namespaces as u64,
        )?;
        Ok(())
    }
}
