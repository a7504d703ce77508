//! serde deserialization straight from the input bytes, borrowing strings.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use crate::decode::DecodeOptions;
use crate::error::{Error, ErrorKind};
use crate::scan;

/// Deserializes a `T` from one complete bencoded value, with default limits.
/// Byte strings can be borrowed as `&'de [u8]` (see [`crate::bytes`]) or `&'de str`.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Resp<'a> { interval: u32, #[serde(borrow, with = "ferro_bencode::bytes")] peers: &'a [u8] }
/// let r: Resp<'_> = ferro_bencode::from_bytes(b"d8:intervali1800e5:peers6:\x7f\0\0\x01\x1a\xe1e")?;
/// assert_eq!((r.interval, r.peers.len()), (1800, 6));
/// # Ok::<(), ferro_bencode::Error>(())
/// ```
pub fn from_bytes<'de, T: de::Deserialize<'de>>(buf: &'de [u8]) -> Result<T, Error> {
    from_bytes_with(buf, &DecodeOptions::default())
}

/// [`from_bytes`] with explicit limits. Strict mode also rejects unsorted keys.
pub fn from_bytes_with<'de, T: de::Deserialize<'de>>(
    buf: &'de [u8],
    opts: &DecodeOptions,
) -> Result<T, Error> {
    let mut d = Deserializer {
        buf,
        pos: 0,
        depth: 0,
        items: 0,
        opts,
    };
    let v = T::deserialize(&mut d).map_err(|e| d.locate(e))?;
    if d.pos != buf.len() {
        return Err(Error::new(ErrorKind::TrailingData, d.pos));
    }
    Ok(v)
}

struct Deserializer<'de, 'o> {
    buf: &'de [u8],
    pos: usize,
    depth: usize,
    items: usize,
    opts: &'o DecodeOptions,
}

impl<'de> Deserializer<'de, '_> {
    /// Errors raised by serde's own code carry no offset; give them ours.
    fn locate(&self, e: Error) -> Error {
        if e.offset() == 0 && matches!(e.kind(), ErrorKind::Custom(_)) {
            Error::new(e.kind().clone(), self.pos)
        } else {
            e
        }
    }

    fn peek(&self) -> Result<u8, Error> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or_else(|| Error::new(ErrorKind::UnexpectedEof, self.pos))
    }

    fn count_item(&mut self) -> Result<(), Error> {
        self.items += 1;
        if self.items > self.opts.max_items {
            return Err(Error::new(
                ErrorKind::ItemLimit(self.opts.max_items),
                self.pos,
            ));
        }
        Ok(())
    }

    fn read_bytes(&mut self) -> Result<&'de [u8], Error> {
        self.count_item()?;
        let (start, end) = scan::string(self.buf, self.pos, self.opts.strict)?;
        self.pos = end;
        Ok(self.buf.get(start..end).unwrap_or_default())
    }

    fn read_int(&mut self) -> Result<i64, Error> {
        self.count_item()?;
        match self.peek()? {
            b'i' => {
                let (v, end) = scan::integer(self.buf, self.pos)?;
                self.pos = end;
                Ok(v)
            }
            c => Err(Error::new(ErrorKind::InvalidByte(c), self.pos)),
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.count_item()?;
        if self.depth >= self.opts.max_depth {
            return Err(Error::new(
                ErrorKind::DepthLimit(self.opts.max_depth),
                self.pos,
            ));
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    fn leave(&mut self) -> Result<(), Error> {
        match self.peek()? {
            b'e' => {
                self.depth -= 1;
                self.pos += 1;
                Ok(())
            }
            c => Err(Error::new(ErrorKind::InvalidByte(c), self.pos)),
        }
    }

    /// Skips one value without building anything (unknown struct fields).
    fn skip(&mut self) -> Result<(), Error> {
        match self.peek()? {
            b'i' => self.read_int().map(drop),
            b'0'..=b'9' => self.read_bytes().map(drop),
            b'l' | b'd' => {
                self.enter()?;
                while self.peek()? != b'e' {
                    self.skip()?;
                }
                self.leave()
            }
            c => Err(Error::new(ErrorKind::InvalidByte(c), self.pos)),
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.peek()? {
            b'i' => v.visit_i64(self.read_int()?),
            b'0'..=b'9' => v.visit_borrowed_bytes(self.read_bytes()?),
            b'l' => self.deserialize_seq(v),
            b'd' => self.deserialize_map(v),
            c => Err(Error::new(ErrorKind::InvalidByte(c), self.pos)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let at = self.pos;
        match self.read_int()? {
            0 => v.visit_bool(false),
            1 => v.visit_bool(true),
            _ => Err(Error::new(
                ErrorKind::Custom("expected 0 or 1 for a boolean".into()),
                at,
            )),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, Error> {
        Err(Error::new(
            ErrorKind::Unsupported("floating point"),
            self.pos,
        ))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, Error> {
        Err(Error::new(
            ErrorKind::Unsupported("floating point"),
            self.pos,
        ))
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let at = self.pos;
        let b = self.read_bytes()?;
        match std::str::from_utf8(b) {
            Ok(s) => v.visit_borrowed_str(s),
            Err(_) => Err(Error::new(
                ErrorKind::Custom("byte string is not UTF-8".into()),
                at,
            )),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_borrowed_bytes(self.read_bytes()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        // Bencode has no null: a present value is `Some`; absent fields become `None`.
        v.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, Error> {
        Err(Error::new(ErrorKind::Unsupported("unit"), self.pos))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.peek()? {
            b'l' => {
                self.enter()?;
                let value = v.visit_seq(&mut *self)?;
                self.leave()?;
                Ok(value)
            }
            c => Err(Error::new(ErrorKind::InvalidByte(c), self.pos)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.peek()? {
            b'd' => {
                self.enter()?;
                let value = v.visit_map(DictAccess::new(&mut *self))?;
                self.leave()?;
                Ok(value)
            }
            c => Err(Error::new(ErrorKind::InvalidByte(c), self.pos)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.peek()? {
            // A unit variant is its name as a byte string.
            b'0'..=b'9' => {
                let at = self.pos;
                let name = std::str::from_utf8(self.read_bytes()?).map_err(|_| {
                    Error::new(ErrorKind::Custom("enum variant is not UTF-8".into()), at)
                })?;
                v.visit_enum(name.into_deserializer())
            }
            // Other variants are a one-key dictionary: { name: content }.
            b'd' => {
                self.enter()?;
                let value = v.visit_enum(EnumAccess { de: &mut *self })?;
                self.leave()?;
                Ok(value)
            }
            c => Err(Error::new(ErrorKind::InvalidByte(c), self.pos)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let b = self.read_bytes()?;
        match std::str::from_utf8(b) {
            Ok(s) => v.visit_borrowed_str(s),
            Err(_) => v.visit_borrowed_bytes(b),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.skip()?;
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! { i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 }
}

impl<'de> SeqAccess<'de> for Deserializer<'de, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.peek()? == b'e' {
            return Ok(None);
        }
        seed.deserialize(&mut *self).map(Some)
    }
}

struct DictAccess<'a, 'de, 'o> {
    de: &'a mut Deserializer<'de, 'o>,
    last_key: Option<&'de [u8]>,
    /// Keys seen so far; only needed once a key is out of order (lenient mode),
    /// to find duplicates that are not adjacent.
    seen: Vec<&'de [u8]>,
    unsorted: Option<std::collections::HashSet<&'de [u8]>>,
}

impl<'a, 'de, 'o> DictAccess<'a, 'de, 'o> {
    fn new(de: &'a mut Deserializer<'de, 'o>) -> Self {
        DictAccess {
            de,
            last_key: None,
            seen: Vec::new(),
            unsorted: None,
        }
    }
}

impl<'de> MapAccess<'de> for DictAccess<'_, 'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let c = self.de.peek()?;
        if c == b'e' {
            return Ok(None);
        }
        if !c.is_ascii_digit() {
            return Err(Error::new(ErrorKind::KeyNotString, self.de.pos));
        }
        // Check key order/uniqueness against the previous key, then let serde read it.
        let at = self.de.pos;
        let (start, end) = scan::string(self.de.buf, at, self.de.opts.strict)?;
        let key = self.de.buf.get(start..end).unwrap_or_default();
        if let Some(prev) = self.last_key {
            match prev.cmp(key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    return Err(Error::new(ErrorKind::DuplicateKey(key.to_vec()), at));
                }
                std::cmp::Ordering::Greater if self.de.opts.strict => {
                    return Err(Error::new(ErrorKind::UnsortedKeys, at));
                }
                std::cmp::Ordering::Greater => {
                    if self.unsorted.is_none() {
                        self.unsorted = Some(self.seen.drain(..).collect());
                    }
                }
            }
        }
        match &mut self.unsorted {
            Some(set) => {
                if !set.insert(key) {
                    return Err(Error::new(ErrorKind::DuplicateKey(key.to_vec()), at));
                }
            }
            None => self.seen.push(key),
        }
        self.last_key = Some(key);
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        if self.de.peek()? == b'e' {
            return Err(Error::new(ErrorKind::MissingValue, self.de.pos));
        }
        seed.deserialize(&mut *self.de)
    }
}

struct EnumAccess<'a, 'de, 'o> {
    de: &'a mut Deserializer<'de, 'o>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'_, 'de, '_> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let v = seed.deserialize(&mut *self.de)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for EnumAccess<'_, 'de, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Err(Error::new(
            ErrorKind::Unsupported("a unit variant inside a dictionary"),
            self.de.pos,
        ))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(&mut *self.de, v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(&mut *self.de, v)
    }
}
