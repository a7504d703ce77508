//! ferro-pex: ut_pex payloads decode or fail cleanly; decoded messages survive
//! an encode→decode round trip and the per-connection limits hold.
#![no_main]

use std::time::Instant;

use ferro_pex::{PexConfig, PexMessage, PexState};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = PexMessage::decode(data) {
        let again = PexMessage::decode(&msg.encode()).expect("re-encoded message decodes");
        assert_eq!(again.added.len(), msg.added.len());
        assert_eq!(again.dropped.len(), msg.dropped.len());
        let mut state = PexState::new(PexConfig::default(), Instant::now());
        let update = state.on_message(Instant::now(), &msg);
        assert!(update.added.len() <= 50 && update.dropped.len() <= 50);
    }
});
