//! ferro-magnet: ut_metadata payloads decode or fail cleanly, and decoded
//! messages re-encode to something that decodes to the same message.
#![no_main]

use ferro_magnet::MetadataMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = MetadataMessage::decode(data) {
        let wire = msg.encode();
        assert_eq!(MetadataMessage::decode(&wire).expect("re-encoded message decodes"), msg);
    }
});
