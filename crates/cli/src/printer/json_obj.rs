//! The JSON writing primitives shared by the JSON printers: an object
//! writer and the one string escaper of JSON output.

use std::io::Write;

/// A tiny JSON object writer over a byte buffer.
pub struct Obj<'a> {
    b: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object.
    pub fn new(b: &'a mut Vec<u8>) -> Obj<'a> {
        b.push(b'{');
        Obj { b, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.b.push(b',');
        }
        self.first = false;
        self.b.push(b'"');
        self.b.extend_from_slice(k.as_bytes());
        self.b.extend_from_slice(b"\":");
    }

    /// A number field.
    pub fn num(&mut self, k: &str, v: impl Into<u64>) -> &mut Self {
        self.key(k);
        super::num::push_u64(self.b, v.into());
        self
    }

    /// A signed number field.
    pub fn int(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        if v < 0 {
            self.b.push(b'-');
        }
        super::num::push_u64(self.b, v.unsigned_abs());
        self
    }

    /// A float field.
    pub fn float(&mut self, k: &str, v: f64) -> &mut Self {
        self.key(k);
        if v.is_finite() {
            let _ = write!(self.b, "{v}");
        } else {
            self.b.push(b'0');
        }
        self
    }

    /// A boolean field.
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.b.extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    /// A string field (bytes that are not UTF-8 become U+FFFD).
    pub fn str(&mut self, k: &str, v: &[u8]) -> &mut Self {
        self.key(k);
        push_str(self.b, v);
        self
    }

    /// A nested value written by `f`.
    pub fn raw(&mut self, k: &str, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.key(k);
        f(self.b);
        self
    }

    /// Closes the object.
    pub fn end(&mut self) {
        self.b.push(b'}');
    }
}

/// Appends a JSON string: [`crate::sanitize::json_str`], the one JSON
/// escaping function.
pub fn push_str(b: &mut Vec<u8>, v: &[u8]) {
    crate::sanitize::json_str(b, v);
}
