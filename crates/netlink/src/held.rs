//! Held replies, compactly: the IPv6 replies of a both-families walk
//! ([`crate::both`]) wait in memory until the walk ends.
//!
//! Consecutive replies of one dump share most bytes (the layout, the
//! addresses, most of `tcp_info`), so each reply is stored as its XOR with
//! the one before, zero runs and differing bytes as tokens: one control
//! byte (`zeros << 3 | literals`: up to 30 zeros, or 31 and one more byte
//! that adds up to 255; up to 7 literals) and the literal bytes. On
//! `-tanoie` replies this is about 50 bytes per reply instead of 428, on
//! `-tan` 15 instead of 112 (docs/benchmarks.md). The encoding is
//! lossless: decoding gives back the exact bytes.
//!
//! The store has a byte budget: a push that would pass it fails, and the
//! caller stops holding (it walks IPv6 again on its own instead).

use crate::error::Error;

/// The zeros field that says one more byte of zeros follows.
const ZEROS_EXT: usize = 31;
/// Zeros one token can skip.
const MAX_ZEROS: usize = ZEROS_EXT + 255;
/// Literal bytes one control byte can carry.
const MAX_LITERALS: usize = 7;
/// The longest reply held (dump replies are far shorter); a length past
/// it in the store is corruption, not an allocation to attempt.
const MAX_REPLY: usize = 1 << 20;

/// Replies held back, delta-encoded, within a byte budget.
#[derive(Debug)]
pub struct Held {
    bytes: Vec<u8>,
    /// The last reply pushed, the base of the next delta.
    prev: Vec<u8>,
    /// Scratch: the reply being pushed XOR `prev`.
    delta: Vec<u8>,
    budget: usize,
    count: usize,
}

impl Held {
    /// An empty store that refuses to grow past `budget` encoded bytes.
    /// Nothing is allocated before the first push.
    pub fn new(budget: usize) -> Held {
        Held {
            bytes: Vec::new(),
            prev: Vec::new(),
            delta: Vec::new(),
            budget,
            count: 0,
        }
    }

    /// Replies held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded bytes held.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// Holds `msg`; `false` (and nothing added) when that would pass the
    /// budget.
    pub fn push(&mut self, msg: &[u8]) -> bool {
        if self.bytes.capacity() == 0 {
            // The whole budget at once (pages are only touched as they
            // fill): growing by doubling would copy, and for a moment
            // hold, the old buffer too.
            self.bytes.reserve_exact(self.budget.saturating_add(SLACK));
        }
        let start = self.bytes.len();
        // A reply that might not fit is refused before it is encoded, so
        // the buffer never reallocates.
        if msg.len() > MAX_REPLY
            || start.saturating_add(worst_case(msg.len())) > self.bytes.capacity()
        {
            return false;
        }
        xor_into(&mut self.delta, msg, &self.prev);
        encode(&self.delta, &mut self.bytes);
        if self.bytes.len() > self.budget {
            self.bytes.truncate(start);
            return false;
        }
        self.prev.clear();
        self.prev.extend_from_slice(msg);
        self.count += 1;
        true
    }

    /// Drops everything held and frees the memory.
    pub fn clear(&mut self) {
        *self = Held::new(self.budget);
    }

    /// The held replies, in the order they were pushed.
    pub fn iter(&self) -> Replies<'_> {
        Replies {
            rest: &self.bytes,
            prev: Vec::new(),
            cur: Vec::new(),
        }
    }
}

/// Room reserved past the budget, for the reply that passes it: the
/// worst case of a 32 KiB reply (the largest datagram a dump sends).
const SLACK: usize = 10 + 64 * 1024;

/// The most bytes [`encode`] writes for a message of `n` bytes: its
/// length and one control byte per literal (a zero between every two).
fn worst_case(n: usize) -> usize {
    10 + 2 * n
}

/// The 8 bytes at `i` of `s` as one little-endian word, if there are 8.
#[inline]
fn word(s: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(s.get(i..i + 8)?.try_into().ok()?))
}

/// Sets `x` to `msg` XOR `prev` (`prev` reads as zeros past its end).
fn xor_into(x: &mut Vec<u8>, msg: &[u8], prev: &[u8]) {
    x.clear();
    x.extend(msg.iter().zip(prev).map(|(a, b)| a ^ b));
    x.extend_from_slice(msg.get(prev.len()..).unwrap_or_default());
}

/// Appends the delta `x` (a reply XOR its predecessor): its length
/// (LEB128), then tokens.
fn encode(x: &[u8], out: &mut Vec<u8>) {
    let n = x.len();
    let mut len = n;
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    let nonzero = |i: usize| x.get(i).is_some_and(|&b| b != 0);
    let mut i = 0;
    while i < n {
        let mut zeros = 0;
        while zeros < MAX_ZEROS && i < n {
            // Eight bytes at a time: most of a reply equals its
            // predecessor.
            if let Some(w) = word(x, i) {
                let same = (w.trailing_zeros() / 8) as usize;
                let take = same.min(MAX_ZEROS - zeros);
                zeros += take;
                i += take;
                if take < 8 {
                    break;
                }
                continue;
            }
            if nonzero(i) {
                break;
            }
            zeros += 1;
            i += 1;
        }
        let start = i;
        while i < n && i - start < MAX_LITERALS && nonzero(i) {
            i += 1;
        }
        let lits = i - start;
        if zeros >= ZEROS_EXT {
            out.push(((ZEROS_EXT << 3) | lits) as u8);
            out.push((zeros - ZEROS_EXT) as u8);
        } else {
            out.push(((zeros << 3) | lits) as u8);
        }
        out.extend_from_slice(x.get(start..i).unwrap_or_default());
    }
}

/// The held replies, decoded one after the other (see [`Held::iter`]).
pub struct Replies<'a> {
    rest: &'a [u8],
    prev: Vec<u8>,
    cur: Vec<u8>,
}

impl Replies<'_> {
    /// The next reply, or `None` at the end. An error means the store is
    /// corrupt (it never is: it holds what [`Held::push`] encoded).
    pub fn next_reply(&mut self) -> Option<Result<&[u8], Error>> {
        if self.rest.is_empty() {
            return None;
        }
        Some(self.decode().map(|()| self.prev.as_slice()))
    }

    fn decode(&mut self) -> Result<(), Error> {
        let corrupt = || Error::Decode("held replies (corrupt encoding)".into());
        let mut n = 0usize;
        let mut shift = 0u32;
        loop {
            let (&b, rest) = self.rest.split_first().ok_or_else(corrupt)?;
            self.rest = rest;
            n |= usize::from(b & 0x7f)
                .checked_shl(shift)
                .ok_or_else(corrupt)?;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        if n > MAX_REPLY {
            return Err(corrupt());
        }
        // Start from the previous reply (zeros past its end), then flip
        // the literal bytes.
        self.cur.clear();
        self.cur
            .extend_from_slice(self.prev.get(..n).unwrap_or(&self.prev));
        self.cur.resize(n, 0);
        let mut i = 0;
        while i < n {
            let (&c, mut rest) = self.rest.split_first().ok_or_else(corrupt)?;
            let mut zeros = usize::from(c >> 3);
            if zeros == ZEROS_EXT {
                let (&e, tail) = rest.split_first().ok_or_else(corrupt)?;
                zeros += usize::from(e);
                rest = tail;
            }
            let lits = usize::from(c & 7);
            let (bytes, rest) = rest.split_at_checked(lits).ok_or_else(corrupt)?;
            self.rest = rest;
            i += zeros;
            let dst = self.cur.get_mut(i..i + lits).ok_or_else(corrupt)?;
            for (d, b) in dst.iter_mut().zip(bytes) {
                *d ^= b;
            }
            i += lits;
        }
        std::mem::swap(&mut self.prev, &mut self.cur);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Held;

    fn round_trip(msgs: &[Vec<u8>]) -> Held {
        let mut h = Held::new(1 << 20);
        for m in msgs {
            assert!(h.push(m));
        }
        let mut it = h.iter();
        let mut got = Vec::new();
        while let Some(r) = it.next_reply() {
            got.push(r.unwrap().to_vec());
        }
        assert_eq!(got, msgs);
        h
    }

    /// A small xorshift generator: varied, reproducible bytes.
    fn bytes(seed: &mut u64, n: usize, density: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                if *seed % 100 < density {
                    (*seed >> 32) as u8
                } else {
                    0
                }
            })
            .collect()
    }

    #[test]
    fn every_reply_comes_back_exactly() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let mut msgs: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0xff; 300], vec![]];
        // Lengths that grow, shrink and stay, sparse and dense, runs past
        // 31 zeros and 7 literals, and lengths over 127 (two-byte LEB128).
        for (n, d) in [
            (72, 5),
            (72, 5),
            (500, 50),
            (13, 100),
            (428, 20),
            (428, 0),
            (40_000, 30),
            (7, 100),
        ] {
            msgs.push(bytes(&mut seed, n, d));
        }
        let base = bytes(&mut seed, 428, 60);
        for k in 0..50 {
            let mut m = base.clone();
            m[k * 8] ^= 1;
            m[427 - k] = k as u8;
            msgs.push(m);
        }
        round_trip(&msgs);
    }

    #[test]
    fn similar_replies_take_few_bytes() {
        let mut seed = 7;
        let base = bytes(&mut seed, 428, 60);
        let msgs: Vec<Vec<u8>> = (0..100u32)
            .map(|k| {
                let mut m = base.clone();
                m[44..48].copy_from_slice(&(1000 + k).to_ne_bytes());
                m
            })
            .collect();
        let h = round_trip(&msgs);
        // The first in full, then about eight bytes each.
        assert!(h.encoded_len() < 500 + 99 * 10, "{}", h.encoded_len());
        assert_eq!(h.len(), 100);
    }

    #[test]
    fn the_budget_refuses_and_keeps_what_it_had() {
        let mut seed = 3;
        let mut h = Held::new(1000);
        let a = bytes(&mut seed, 400, 100);
        let b = bytes(&mut seed, 400, 100);
        let c = bytes(&mut seed, 400, 100);
        assert!(h.push(&a));
        assert!(h.push(&b));
        assert!(!h.push(&c), "three dense replies do not fit 1000 bytes");
        assert!(h.encoded_len() <= 1000);
        let mut it = h.iter();
        assert_eq!(it.next_reply().unwrap().unwrap(), a);
        assert_eq!(it.next_reply().unwrap().unwrap(), b);
        assert!(it.next_reply().is_none());
        h.clear();
        assert!(h.is_empty());
        assert!(h.iter().next_reply().is_none());
        // Nothing a dump sends is that long; the store refuses it.
        assert!(!Held::new(8 << 20).push(&vec![0; super::MAX_REPLY + 1]));
    }
}
