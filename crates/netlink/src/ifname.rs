//! Interface names and indexes, for `%lo` in addresses and `dev lo` in
//! filters. Both follow the calling thread's network namespace.

use std::ffi::{CStr, CString};

/// Every interface as `(index, name)`, in the C library's order; empty if
/// the list cannot be read. Names are the kernel's bytes, which need not be
/// UTF-8 (`ip link set lo name $'\xff'` is accepted): the printers escape them.
pub fn interface_names() -> Vec<(u32, Vec<u8>)> {
    // SAFETY: if_nameindex takes no arguments; it returns NULL on failure or
    // an array it allocated, ended by an entry with index 0 and a NULL name.
    let head = unsafe { libc::if_nameindex() };
    if head.is_null() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut p = head;
    loop {
        // SAFETY: `p` is within the array: we stop at its terminating entry.
        let entry = unsafe { &*p };
        if entry.if_index == 0 || entry.if_name.is_null() {
            break;
        }
        // SAFETY: if_name is a NUL-terminated string owned by the array,
        // valid until if_freenameindex below.
        let name = unsafe { CStr::from_ptr(entry.if_name) };
        out.push((entry.if_index, name.to_bytes().to_vec()));
        // SAFETY: this entry was not the terminator, so the next one exists.
        p = unsafe { p.add(1) };
    }
    // SAFETY: `head` came from if_nameindex and is freed exactly once; no
    // borrow of the array outlives this point (names were copied).
    unsafe { libc::if_freenameindex(head) };
    out
}

/// The index of interface `name`, or `None` if there is no such interface.
pub fn interface_index(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the whole call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed() {
        let names = interface_names();
        let lo = names.iter().find(|(_, n)| n == b"lo").map(|(i, _)| *i);
        assert!(lo.is_some(), "{names:?}");
        assert_eq!(interface_index("lo"), lo);
        assert_eq!(interface_index("no-such-if0"), None);
        assert_eq!(interface_index("bad\0name"), None);
    }
}
