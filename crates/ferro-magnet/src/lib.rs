//! Magnet links and metadata exchange (BEP 9). It will own magnet URI parsing and formatting (`xt=urn:btih:` in hex and base32, `dn`, `tr`, `x.pe`, `ws`, `so` of BEP 53), the ut_metadata message codec, and a sans-IO metadata assembler that fetches the info dictionary from several peers at once, verifies it against the info-hash and enforces a size limit.
#![deny(missing_docs)]
