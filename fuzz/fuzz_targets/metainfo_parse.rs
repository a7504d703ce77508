//! ferro-metainfo's parser on arbitrary bytes: never panics, and whatever
//! loads is consistent and survives write-back unchanged.
#![no_main]

use ferro_metainfo::{Info, Metainfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The same bytes as a bare info dictionary (the BEP 9 metadata path).
    if let Ok(info) = Info::from_bytes(data) {
        assert_eq!(info.raw(), data);
    }
    let Ok(m) = Metainfo::from_bytes(data) else {
        return;
    };
    let info = &m.info;
    // Spans of all pieces tile exactly the non-padding bytes.
    let mut covered = 0u64;
    for piece in 0..info.piece_count() {
        let size = info.piece_size(piece).unwrap();
        let in_piece: u64 = info.file_spans(piece).map(|s| s.len).sum();
        assert!(in_piece <= size);
        covered += in_piece;
    }
    let non_padding: u64 = info.files().iter().filter(|f| !f.is_padding()).map(|f| f.length).sum();
    assert_eq!(covered, non_padding);
    for f in info.files() {
        assert!(ferro_metainfo::safe_join(std::path::Path::new("/dl"), &f.path).is_ok());
    }
    // Write-back keeps the info bytes, so the hash and everything parsed.
    let again = Metainfo::from_bytes(&m.to_bytes()).expect("re-parse of written torrent");
    assert_eq!(again.info, m.info);
    assert_eq!(again.trackers, m.trackers);
    assert_eq!(again.web_seeds, m.web_seeds);
    assert_eq!(again.to_bytes(), m.to_bytes());
});
