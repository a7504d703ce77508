//! The canonical encoder.

use bytes::BufMut;

/// A low-level bencode writer into any [`BufMut`] (`Vec<u8>`, `BytesMut`, ...).
///
/// It writes exactly what it is told: to produce canonical bencode the caller
/// gives dictionary keys in ascending byte order (`OwnedValue` and the serde
/// serializer do this for you).
///
/// ```
/// use ferro_bencode::Encoder;
/// let mut e = Encoder::new(Vec::new());
/// e.begin_dict();
/// e.bytes(b"a");
/// e.int(-7);
/// e.bytes(b"b");
/// e.begin_list();
/// e.bytes(b"xy");
/// e.end();
/// e.end();
/// assert_eq!(e.into_inner(), b"d1:ai-7e1:bl2:xyee");
/// ```
#[derive(Debug, Default)]
pub struct Encoder<B> {
    out: B,
}

impl<B: BufMut> Encoder<B> {
    /// An encoder appending to `out`.
    pub fn new(out: B) -> Self {
        Encoder { out }
    }

    /// Writes an integer.
    pub fn int(&mut self, v: i64) {
        self.out.put_u8(b'i');
        write_decimal_i64(&mut self.out, v);
        self.out.put_u8(b'e');
    }

    /// Writes a byte string.
    pub fn bytes(&mut self, v: &[u8]) {
        write_decimal_u64(&mut self.out, v.len() as u64);
        self.out.put_u8(b':');
        self.out.put_slice(v);
    }

    /// Writes a UTF-8 string as a byte string.
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    /// Opens a list; close it with [`end`](Self::end).
    pub fn begin_list(&mut self) {
        self.out.put_u8(b'l');
    }

    /// Opens a dictionary; write key, value, key, value, ..., then [`end`](Self::end).
    pub fn begin_dict(&mut self) {
        self.out.put_u8(b'd');
    }

    /// Closes the innermost list or dictionary.
    pub fn end(&mut self) {
        self.out.put_u8(b'e');
    }

    /// Appends bytes that are already valid bencode (a value kept raw, such as an info dictionary).
    pub fn raw(&mut self, encoded: &[u8]) {
        self.out.put_slice(encoded);
    }

    /// The buffer written to.
    pub fn into_inner(self) -> B {
        self.out
    }

    /// The buffer written to, borrowed.
    pub fn get_ref(&self) -> &B {
        &self.out
    }
}

pub(crate) fn write_decimal_u64<B: BufMut>(out: &mut B, mut v: u64) {
    // u64::MAX has 20 decimal digits, so the digits always fit.
    let mut tmp = [0u8; 20];
    let mut used = 0;
    for slot in tmp.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        used += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put_slice(tmp.get(tmp.len() - used..).unwrap_or_default());
}

pub(crate) fn write_decimal_i64<B: BufMut>(out: &mut B, v: i64) {
    if v < 0 {
        out.put_u8(b'-');
    }
    write_decimal_u64(out, v.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_at_the_extremes() {
        let mut out = Vec::new();
        for v in [0, 9, 10, u64::MAX] {
            out.clear();
            write_decimal_u64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
        for v in [i64::MIN, -1, 0, 1, i64::MAX] {
            out.clear();
            write_decimal_i64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }
}
