//! Compile errors: a value that does not mean anything here.

use std::ops::Range;

/// A value that does not mean anything here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct CompileError {
    /// Byte range in the source to underline.
    pub span: Range<usize>,
    /// What was wrong.
    pub kind: CompileErrorKind,
}

/// What was wrong with a value. Each variant names an input that triggers it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileErrorKind {
    /// `sport = :99999`.
    #[error("port {0} is out of range: ports are 0 to 65535")]
    PortRange(String),
    /// `sport = :80x`.
    #[error("\"{0}\" does not look like a port")]
    NotAPort(String),
    /// `dport = 10.0.0.1:22`.
    #[error("\"{0}\" does not look like a port; to match an address use `dst` or `src`")]
    AddressAsPort(String),
    /// `sport = ':80'` inside double quotes: the shell kept the single quotes.
    #[error(
        "the quotes in {value} are part of the value (inside other quotes the shell keeps them): write {inner}"
    )]
    Quoted {
        /// The value as given.
        value: String,
        /// The value without its quotes.
        inner: String,
    },
    /// `sport = :nosuchservice`.
    #[error("\"{0}\" does not look like a port: not a number, and no such service")]
    UnknownService(String),
    /// `sport = :svc` when tcp and udp disagree.
    #[error("{0}")]
    Service(String),
    /// `sport >= *`.
    #[error("`{0}` needs a port number, not any port")]
    RangeOfAny(&'static str),
    /// `src 300.1.1.1`.
    #[error("bad address: {0}")]
    BadAddress(String),
    /// `src [::]/0`.
    #[error("\"{0}\" after `]` is not a port; write a prefix inside the brackets, as in [::/0]")]
    AfterBracket(String),
    /// `src inet6:10.0.0.1`.
    #[error("\"{value}\" is not an address of family {family}")]
    WrongFamily {
        /// The address.
        value: String,
        /// The family asked for.
        family: &'static str,
    },
    /// `src no-such-host.invalid`.
    #[error("\"{0}\" is neither an address nor a host name that resolves")]
    UnknownHost(String),
    /// `uid = x`.
    #[error("\"{0}\" is not a number")]
    BadNumber(String),
    /// `fwmark = x`.
    #[error("cannot parse mark \"{0}\": expected MARK or MARK/MASK")]
    BadMark(String),
    /// `dev nosuchdev`.
    #[error("no interface named \"{0}\"")]
    UnknownInterface(String),
    /// `cgroup /no/such`.
    #[error("no cgroup \"{0}\" (is cgroup2 mounted?)")]
    UnknownCgroup(String),
    /// `state listen`.
    #[error("unknown state \"{0}\" (try listening, established, connected, …)")]
    UnknownState(String),
    /// `user nosuchuser`.
    #[error("no user named \"{0}\"")]
    UnknownUser(String),
    /// `src link:nosuch`.
    #[error("unknown {what} \"{name}\"")]
    UnknownName {
        /// Which table.
        what: &'static str,
        /// The name.
        name: String,
    },
}
