//! Process names.

use std::fmt;

/// A process name (`/proc/PID/comm`, at most 15 bytes in the kernel), kept
/// inline so that building the owner map allocates nothing per fd. Longer
/// names are cut at 63 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Comm {
    len: u8,
    bytes: [u8; 63],
}

impl Comm {
    /// Makes a name from raw bytes (not sanitised).
    pub fn new(raw: &[u8]) -> Comm {
        let n = raw.len().min(63);
        let mut bytes = [0u8; 63];
        bytes[..n].copy_from_slice(&raw[..n]);
        Comm {
            len: n as u8,
            bytes,
        }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Default for Comm {
    fn default() -> Self {
        Comm::new(b"")
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}
