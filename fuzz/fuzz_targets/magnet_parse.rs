//! ferro-magnet: any text parses or fails cleanly; what parses formats to a
//! link that parses back to the same value.
#![no_main]

use ferro_magnet::MagnetLink;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(link) = MagnetLink::parse(text) {
        let again = MagnetLink::parse(&link.to_string()).expect("formatted link parses");
        assert_eq!(again, link);
    }
});
