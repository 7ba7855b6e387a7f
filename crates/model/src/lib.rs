//! Plain socket records shared by every sockq crate.
//!
//! This crate is the vocabulary at the bottom of the workspace: the netlink
//! decoder produces [`Socket`]s, the filter evaluates them, the process scanner
//! attaches [`Owner`]s to them and the printers format them. It does no I/O and
//! knows nothing about netlink, pest or clap, so everything above it can be
//! tested on fixture records without a kernel.
//!
//! ```
//! use sockq_model::{State, StateSet};
//! let set = StateSet::parse_name("connected").unwrap();
//! assert!(set.contains(State::TimeWait));
//! assert!(!set.contains(State::Listen));
//! ```
#![forbid(unsafe_code)]

pub mod comm;
pub mod detail;
pub mod identity;
pub mod info;
pub mod names;
pub mod process;
pub mod sink;
pub mod socket;
pub mod state;
pub mod table;

pub use detail::{
    Detail, NetlinkDetail, PacketDetail, PacketInfo, PacketRing, TipcDetail, UnixDetail, XdpDetail,
    XdpStats, XdpUmem,
};
pub use identity::{Container, Identity, Pod, Runtime, UnitKind};
pub use info::{BbrInfo, DctcpInfo, MptcpInfo, SkMem, TcpInfo, VegasInfo};
pub use process::{Comm, OpenFile, Owner, ProcessDetail, ProcessInfo};
pub use sink::{FileRole, FileUse, Files, Reader, ReaderKind, Stream, StreamKind};
pub use socket::{Endpoint, Shutdown, Socket, Timer, TimerKind, UnixName};
pub use state::{State, StateSet};
pub use table::{Family, FamilySet, Table, TableSet};
