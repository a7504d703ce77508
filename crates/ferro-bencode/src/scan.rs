//! The lexical rules of bencode (BEP 3), shared by the tape decoder and the
//! serde deserializer so both accept exactly the same integers and strings.

use crate::error::{Error, ErrorKind};

/// Parses an integer whose `i` is at `pos`. Returns the value and the offset after its `e`.
///
/// BEP 3: "i-0e is invalid. All encodings with a leading zero, such as i03e, are
/// invalid, other than i0e, which of course corresponds to 0."
#[inline]
pub(crate) fn integer(buf: &[u8], pos: usize) -> Result<(i64, usize), Error> {
    let mut p = pos + 1;
    let negative = buf.get(p) == Some(&b'-');
    if negative {
        p += 1;
    }
    let digits_start = p;
    let mut magnitude: u64 = 0;
    loop {
        match buf.get(p) {
            Some(&c @ b'0'..=b'9') => {
                magnitude = magnitude
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(c - b'0')))
                    .ok_or_else(|| Error::new(ErrorKind::IntegerOverflow, digits_start))?;
                p += 1;
            }
            Some(b'e') => break,
            Some(&c) => return Err(Error::new(ErrorKind::InvalidByte(c), p)),
            None => return Err(Error::new(ErrorKind::UnexpectedEof, p)),
        }
    }
    let ndigits = p - digits_start;
    if ndigits == 0 {
        return Err(Error::new(ErrorKind::EmptyInteger, digits_start));
    }
    if buf.get(digits_start) == Some(&b'0') {
        if ndigits > 1 {
            return Err(Error::new(ErrorKind::LeadingZero, digits_start));
        }
        if negative {
            return Err(Error::new(ErrorKind::NegativeZero, pos));
        }
    }
    let value = if negative {
        // -(2^63) is the one magnitude that fits only as a negative number.
        if magnitude > (i64::MAX as u64) + 1 {
            return Err(Error::new(ErrorKind::IntegerOverflow, digits_start));
        }
        (magnitude as i64).wrapping_neg()
    } else {
        i64::try_from(magnitude)
            .map_err(|_| Error::new(ErrorKind::IntegerOverflow, digits_start))?
    };
    Ok((value, p + 1))
}

/// Parses a byte string whose first length digit is at `pos`. Returns the offset of
/// the payload and the offset after it.
#[inline]
pub(crate) fn string(buf: &[u8], pos: usize, strict: bool) -> Result<(usize, usize), Error> {
    let mut p = pos;
    let mut len: usize = 0;
    loop {
        match buf.get(p) {
            Some(&c @ b'0'..=b'9') => {
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(c - b'0')))
                    .ok_or_else(|| Error::new(ErrorKind::InvalidStringLength, pos))?;
                p += 1;
            }
            Some(b':') => break,
            Some(&c) => return Err(Error::new(ErrorKind::InvalidByte(c), p)),
            None => return Err(Error::new(ErrorKind::UnexpectedEof, p)),
        }
    }
    if p == pos {
        return Err(Error::new(ErrorKind::InvalidStringLength, pos));
    }
    if strict && p - pos > 1 && buf.get(pos) == Some(&b'0') {
        return Err(Error::new(ErrorKind::LeadingZero, pos));
    }
    let start = p + 1;
    let end = start
        .checked_add(len)
        .filter(|&end| end <= buf.len())
        .ok_or_else(|| Error::new(ErrorKind::InvalidStringLength, pos))?;
    Ok((start, end))
}
