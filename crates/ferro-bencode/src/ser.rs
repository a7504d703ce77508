//! serde serialization into canonical bencode.
//!
//! Dictionary and struct entries are buffered and written in ascending key
//! order, as BEP 3 requires ("keys must be strings and appear in sorted order").
//! `None` and unit values are left out: a struct field that is `None` does not
//! appear in the dictionary, and a `None` in a list is skipped.

use serde::ser::{self, Serialize};

use crate::encode::{write_decimal_i64, write_decimal_u64};
use crate::error::{Error, ErrorKind};

/// Serializes `v` into canonical bencode.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Ping { y: &'static str, t: &'static str, a: Option<i64> }
/// let b = ferro_bencode::to_bytes(&Ping { y: "q", t: "aa", a: None })?;
/// assert_eq!(b, b"d1:t2:aa1:y1:qe");
/// # Ok::<(), ferro_bencode::Error>(())
/// ```
pub fn to_bytes<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    v.serialize(&mut Serializer { out: &mut out })?;
    Ok(out)
}

fn unsupported(what: &'static str) -> Error {
    Error::new(ErrorKind::Unsupported(what), 0)
}

struct Serializer<'a> {
    out: &'a mut Vec<u8>,
}

impl Serializer<'_> {
    fn int(&mut self, v: i64) {
        self.out.push(b'i');
        write_decimal_i64(self.out, v);
        self.out.push(b'e');
    }

    fn bytes(&mut self, v: &[u8]) {
        write_decimal_u64(self.out, v.len() as u64);
        self.out.push(b':');
        self.out.extend_from_slice(v);
    }
}

/// Builds a dictionary: entries buffered, then sorted and written on `end`.
struct DictWriter<'a> {
    out: &'a mut Vec<u8>,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    pending_key: Option<Vec<u8>>,
    /// The content of an enum variant: close the enclosing `{ name: ... }` too.
    variant: bool,
}

impl DictWriter<'_> {
    fn push(&mut self, key: Vec<u8>, value: Vec<u8>) {
        // An empty encoding is `None`/unit: leave the entry out.
        if !value.is_empty() {
            self.entries.push((key, value));
        }
    }

    fn finish(mut self) -> Result<(), Error> {
        self.entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = self
            .entries
            .windows(2)
            .find(|w| matches!(w, [a, b] if a.0 == b.0))
        {
            let key = w.first().map(|e| e.0.clone()).unwrap_or_default();
            return Err(Error::new(ErrorKind::DuplicateKey(key), 0));
        }
        self.out.push(b'd');
        for (k, v) in &self.entries {
            write_decimal_u64(self.out, k.len() as u64);
            self.out.push(b':');
            self.out.extend_from_slice(k);
            self.out.extend_from_slice(v);
        }
        self.out.push(b'e');
        if self.variant {
            self.out.push(b'e');
        }
        Ok(())
    }
}

fn encode_value<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, Error> {
    to_bytes(v)
}

impl<'s, 'a> ser::Serializer for &'s mut Serializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ListWriter<'s, 'a>;
    type SerializeTuple = ListWriter<'s, 'a>;
    type SerializeTupleStruct = ListWriter<'s, 'a>;
    type SerializeTupleVariant = ListWriter<'s, 'a>;
    type SerializeMap = DictWriter<'s>;
    type SerializeStruct = DictWriter<'s>;
    type SerializeStructVariant = DictWriter<'s>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.int(i64::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        // Our decoder reads integers as i64; refuse what it could not read back.
        let v = i64::try_from(v).map_err(|_| unsupported("integers above i64::MAX"))?;
        self.serialize_i64(v)
    }
    fn serialize_f32(self, _v: f32) -> Result<(), Error> {
        Err(unsupported("floating point"))
    }
    fn serialize_f64(self, _v: f64) -> Result<(), Error> {
        Err(unsupported("floating point"))
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.bytes(v.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.bytes(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.out.push(b'd');
        self.bytes(variant.as_bytes());
        v.serialize(&mut *self)?;
        self.out.push(b'e');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<ListWriter<'s, 'a>, Error> {
        self.out.push(b'l');
        Ok(ListWriter {
            ser: self,
            variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<ListWriter<'s, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ListWriter<'s, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        self.out.push(b'd');
        self.bytes(variant.as_bytes());
        self.out.push(b'l');
        Ok(ListWriter {
            ser: self,
            variant: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<DictWriter<'s>, Error> {
        Ok(DictWriter {
            out: self.out,
            entries: Vec::new(),
            pending_key: None,
            variant: false,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<DictWriter<'s>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        self.out.push(b'd');
        self.bytes(variant.as_bytes());
        Ok(DictWriter {
            out: self.out,
            entries: Vec::new(),
            pending_key: None,
            variant: true,
        })
    }
}

/// Writes list elements in place.
pub(crate) struct ListWriter<'s, 'a> {
    ser: &'s mut Serializer<'a>,
    /// The content of an enum variant: close the enclosing `{ name: ... }` too.
    variant: bool,
}

impl ser::SerializeSeq for ListWriter<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        v.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.out.push(b'e');
        if self.variant {
            self.ser.out.push(b'e');
        }
        Ok(())
    }
}

impl ser::SerializeTuple for ListWriter<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for ListWriter<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for ListWriter<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for DictWriter<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.pending_key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| Error::new(ErrorKind::Custom("map value without a key".into()), 0))?;
        let value = encode_value(v)?;
        self.push(key, value);
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for DictWriter<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        let value = encode_value(v)?;
        self.push(key.as_bytes().to_vec(), value);
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for DictWriter<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, v)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Dictionary keys: byte strings only (strings, bytes, or newtypes of them).
struct KeySerializer;

fn non_string_key() -> Error {
    unsupported("non-string dictionary keys")
}

/// The scalar `serialize_*` methods of [`KeySerializer`], all refusing.
macro_rules! reject_keys {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _v: $ty) -> Result<Vec<u8>, Error> {
            Err(non_string_key())
        })*
    };
}

impl ser::Serializer for KeySerializer {
    type Ok = Vec<u8>;
    type Error = Error;
    type SerializeSeq = ser::Impossible<Vec<u8>, Error>;
    type SerializeTuple = ser::Impossible<Vec<u8>, Error>;
    type SerializeTupleStruct = ser::Impossible<Vec<u8>, Error>;
    type SerializeTupleVariant = ser::Impossible<Vec<u8>, Error>;
    type SerializeMap = ser::Impossible<Vec<u8>, Error>;
    type SerializeStruct = ser::Impossible<Vec<u8>, Error>;
    type SerializeStructVariant = ser::Impossible<Vec<u8>, Error>;

    fn serialize_str(self, v: &str) -> Result<Vec<u8>, Error> {
        Ok(v.as_bytes().to_vec())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(v.to_vec())
    }
    fn serialize_char(self, v: char) -> Result<Vec<u8>, Error> {
        Ok(v.encode_utf8(&mut [0; 4]).as_bytes().to_vec())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _n: &'static str,
        v: &T,
    ) -> Result<Vec<u8>, Error> {
        v.serialize(self)
    }
    fn serialize_unit_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<Vec<u8>, Error> {
        Ok(variant.as_bytes().to_vec())
    }
    reject_keys! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_f32(f32), serialize_f64(f64),
        serialize_unit_struct(&'static str)
    }
    fn serialize_none(self) -> Result<Vec<u8>, Error> {
        Err(non_string_key())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _v: &T) -> Result<Vec<u8>, Error> {
        Err(non_string_key())
    }
    fn serialize_unit(self) -> Result<Vec<u8>, Error> {
        Err(non_string_key())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _n: &'static str,
        _i: u32,
        _variant: &'static str,
        _v: &T,
    ) -> Result<Vec<u8>, Error> {
        Err(non_string_key())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(non_string_key())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(non_string_key())
    }
    fn serialize_tuple_struct(
        self,
        _n: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(non_string_key())
    }
    fn serialize_tuple_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(non_string_key())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(non_string_key())
    }
    fn serialize_struct(
        self,
        _n: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(non_string_key())
    }
    fn serialize_struct_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(non_string_key())
    }
}
