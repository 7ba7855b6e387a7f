//! Socket states and state masks, with ss's names and groups.

use std::fmt;

/// A socket state, numbered as the kernel's `TCP_*` constants.
///
/// Unknown numbers are kept as [`State::Other`] so that a newer kernel never
/// makes sockq fail or lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// 0: not a TCP state; ss prints `UNKNOWN`.
    Unknown,
    /// 1: `ESTAB`.
    Established,
    /// 2: `SYN-SENT`.
    SynSent,
    /// 3: `SYN-RECV`.
    SynRecv,
    /// 4: `FIN-WAIT-1`.
    FinWait1,
    /// 5: `FIN-WAIT-2`.
    FinWait2,
    /// 6: `TIME-WAIT`.
    TimeWait,
    /// 7: `UNCONN` (TCP_CLOSE).
    Close,
    /// 8: `CLOSE-WAIT`.
    CloseWait,
    /// 9: `LAST-ACK`.
    LastAck,
    /// 10: `LISTEN`.
    Listen,
    /// 11: `CLOSING`.
    Closing,
    /// 12: TCP_NEW_SYN_RECV; the kernel reports request sockets as SYN-RECV.
    NewSynRecv,
    /// 13: TCP_BOUND_INACTIVE (Linux 6.8+).
    BoundInactive,
    /// Any other number.
    Other(u8),
}

impl State {
    /// Every known state in kernel order.
    pub const ALL: [State; 14] = [
        State::Unknown,
        State::Established,
        State::SynSent,
        State::SynRecv,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::Close,
        State::CloseWait,
        State::LastAck,
        State::Listen,
        State::Closing,
        State::NewSynRecv,
        State::BoundInactive,
    ];

    /// Decodes the kernel's state number.
    pub fn from_u8(v: u8) -> State {
        match State::ALL.get(usize::from(v)) {
            Some(s) => *s,
            None => State::Other(v),
        }
    }

    /// The kernel's state number.
    pub fn as_u8(self) -> u8 {
        match self {
            State::Unknown => 0,
            State::Established => 1,
            State::SynSent => 2,
            State::SynRecv => 3,
            State::FinWait1 => 4,
            State::FinWait2 => 5,
            State::TimeWait => 6,
            State::Close => 7,
            State::CloseWait => 8,
            State::LastAck => 9,
            State::Listen => 10,
            State::Closing => 11,
            State::NewSynRecv => 12,
            State::BoundInactive => 13,
            State::Other(v) => v,
        }
    }

    /// The name ss prints in the State column.
    pub fn name(self) -> &'static str {
        match self {
            State::Unknown => "UNKNOWN",
            State::Established => "ESTAB",
            State::SynSent => "SYN-SENT",
            State::SynRecv => "SYN-RECV",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::TimeWait => "TIME-WAIT",
            State::Close => "UNCONN",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
            State::NewSynRecv | State::BoundInactive | State::Other(_) => "UNDEF",
        }
    }

    /// The lower-case name accepted by `state NAME` (`listening`, not `listen`).
    pub fn keyword(self) -> Option<&'static str> {
        Some(match self {
            State::Unknown => "unknown",
            State::Established => "established",
            State::SynSent => "syn-sent",
            State::SynRecv => "syn-recv",
            State::FinWait1 => "fin-wait-1",
            State::FinWait2 => "fin-wait-2",
            State::TimeWait => "time-wait",
            State::Close => "closed",
            State::CloseWait => "close-wait",
            State::LastAck => "last-ack",
            State::Listen => "listening",
            State::Closing => "closing",
            State::BoundInactive => "bound-inactive",
            State::NewSynRecv | State::Other(_) => return None,
        })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of states, as the `idiag_states` bit mask (`1 << state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct StateSet(pub u32);

impl StateSet {
    /// No state.
    pub const EMPTY: StateSet = StateSet(0);
    /// Every state ss knows (`all`, SS_ALL).
    pub const ALL: StateSet = StateSet(0x3fff);
    /// ss's default: all but LISTEN, CLOSE, TIME-WAIT and SYN-RECV (SS_CONN).
    pub const CONN: StateSet = StateSet(0x3b37);
    /// `-l`: LISTEN and CLOSE.
    pub const LISTENING: StateSet = StateSet((1 << 10) | (1 << 7));
    /// `-B`: bound-inactive only.
    pub const BOUND_INACTIVE: StateSet = StateSet(1 << 13);

    /// The set holding one state.
    pub fn of(s: State) -> StateSet {
        let bit = s.as_u8();
        if bit < 32 {
            StateSet(1 << bit)
        } else {
            StateSet(0)
        }
    }

    /// Whether `s` is in the set.
    pub fn contains(self, s: State) -> bool {
        self.0 & StateSet::of(s).0 != 0
    }

    /// Union.
    pub fn union(self, o: StateSet) -> StateSet {
        StateSet(self.0 | o.0)
    }

    /// Set difference.
    pub fn minus(self, o: StateSet) -> StateSet {
        StateSet(self.0 & !o.0)
    }

    /// Intersection.
    pub fn intersect(self, o: StateSet) -> StateSet {
        StateSet(self.0 & o.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether exactly one state is in the set (ss then hides the State column).
    pub fn is_single(self) -> bool {
        self.0.count_ones() == 1
    }

    /// Parses a state name or group as ss does, case-insensitively.
    ///
    /// Accepts every name in [`State::keyword`], the aliases `syn-rcv`,
    /// `unconnected` and `close`, and the groups `all`, `connected`,
    /// `synchronized`, `bucket` and `big`. Like ss, `listen` and
    /// `new-syn-recv` are rejected.
    pub fn parse_name(name: &str) -> Option<StateSet> {
        let n = name.to_ascii_lowercase();
        let bit = |s: State| StateSet::of(s);
        let closed_listen = bit(State::Close).union(bit(State::Listen));
        let bucket = bit(State::SynRecv).union(bit(State::TimeWait));
        Some(match n.as_str() {
            "all" => StateSet::ALL,
            "connected" => StateSet::ALL.minus(closed_listen),
            "synchronized" => StateSet::ALL
                .minus(closed_listen)
                .minus(bit(State::SynSent)),
            "bucket" => bucket,
            "big" => StateSet::ALL.minus(bucket),
            "syn-rcv" => bit(State::SynRecv),
            "unconnected" | "close" => bit(State::Close),
            _ => {
                return State::ALL
                    .iter()
                    .find(|s| s.keyword() == Some(n.as_str()))
                    .map(|s| bit(*s));
            }
        })
    }

    /// Iterates the states in the set, in kernel order.
    pub fn iter(self) -> impl Iterator<Item = State> {
        State::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::from_u8(s.as_u8()), s);
            if let Some(k) = s.keyword() {
                assert_eq!(StateSet::parse_name(k), Some(StateSet::of(s)));
            }
        }
        assert_eq!(State::from_u8(200), State::Other(200));
    }

    #[test]
    fn groups_match_ss() {
        assert_eq!(StateSet::parse_name("LISTENING"), Some(StateSet(1 << 10)));
        assert_eq!(StateSet::parse_name("listen"), None);
        assert_eq!(StateSet::parse_name("new-syn-recv"), None);
        assert_eq!(StateSet::parse_name("bucket"), Some(StateSet(0x48)));
        let conn = StateSet::parse_name("connected").unwrap_or_default();
        assert_eq!(conn, StateSet(0x3fff & !0x480));
        assert!(!StateSet::CONN.contains(State::TimeWait));
        assert!(!StateSet::CONN.contains(State::SynRecv));
    }
}
