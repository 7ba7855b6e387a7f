//! `-D FILE`: the raw TCP replies that pass the filter, each family's dump
//! ending with NLMSG_DONE, in the format `TCPDIAG_FILE` replays. A source
//! and its own writer: the bytes are the kernel's, not a printer's.

use crate::config::Config;
use crate::error::CliError;
use crate::filtering::FilterSet;
use crate::outfile::OutFile;
use sockq_model::{Family, FamilySet, Table};
use sockq_netlink::InetRequest;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

/// Writes the TCP replies of `families` that pass `filters` to `path`
/// (`-`: stdout).
pub fn write(
    cfg: &Config,
    filters: &FilterSet,
    families: FamilySet,
    extensions: u8,
    path: &Path,
) -> Result<(), CliError> {
    if !cfg.tables.contains(Table::Tcp) {
        return Err(CliError::Usage(
            "-D writes TCP replies: select TCP (-t)".into(),
        ));
    }
    // FILE is not touched until the dump works, and is replaced only when
    // it is complete (crate::outfile).
    let mut w = if path.as_os_str().to_string_lossy().starts_with('-') {
        Target::Stdout(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Target::File(OutFile::new(path))
    };
    let mut nl = super::open_diag()?;
    for family in [Family::Inet, Family::Inet6] {
        if !families.contains(family) {
            continue;
        }
        let req = InetRequest {
            family,
            table: Table::Tcp,
            states: cfg.states,
            extensions,
            bytecode: filters.bytecode(),
        };
        let bytes = req.to_bytes(0).map_err(|e| CliError::Netlink {
            context: "building the request".into(),
            source: e,
        })?;
        let mut io_err: Option<CliError> = None;
        nl.dump_raw(&bytes, &mut |ty, payload| {
            if ty == sockq_netlink::msg::SOCK_DIAG_BY_FAMILY {
                let s = sockq_netlink::decode_inet(payload, Table::Tcp)?;
                if filters.matches(&s, &[])
                    && let Err(e) = w.message(ty, payload)
                {
                    io_err = Some(e);
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(ControlFlow::Continue(()))
        })
        .map_err(|e| CliError::Netlink {
            context: "dumping tcp".into(),
            source: e,
        })?;
        if let Some(e) = io_err {
            return Err(e);
        }
        w.message(3, &0i32.to_ne_bytes())?;
    }
    w.commit()
}

/// Where `-D` writes: stdout (`-`), or a file (see [`OutFile`]).
enum Target<'a> {
    Stdout(std::io::BufWriter<std::io::StdoutLock<'a>>),
    File(OutFile),
}

impl Target<'_> {
    /// Writes one netlink message as ss's `-D` does: header in host order,
    /// NLM_F_MULTI, ss's sequence number, padded to 4 bytes; straight to
    /// the buffered writer, no copy per message.
    fn message(&mut self, ty: u16, payload: &[u8]) -> Result<(), CliError> {
        let len = 16 + payload.len();
        let mut hdr = [0u8; 16];
        hdr[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
        hdr[4..6].copy_from_slice(&ty.to_ne_bytes());
        hdr[6..8].copy_from_slice(&2u16.to_ne_bytes());
        hdr[8..12].copy_from_slice(&123456u32.to_ne_bytes());
        let pad = &[0u8; 3][..(4 - len % 4) % 4];
        for part in [&hdr[..], payload, pad] {
            match self {
                Target::Stdout(w) => w.write_all(part).map_err(CliError::from)?,
                Target::File(f) => f.write_all(part)?,
            }
        }
        Ok(())
    }

    fn commit(self) -> Result<(), CliError> {
        match self {
            Target::Stdout(mut w) => w.flush().map_err(CliError::from),
            Target::File(f) => f.commit(),
        }
    }
}
