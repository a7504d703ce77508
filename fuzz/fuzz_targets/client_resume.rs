//! ferro-client's resume file parser: never panics; what parses re-encodes
//! to something that parses to the same value; planning a recheck from it
//! against a real torrent never panics either.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use ferro_client::resume::ResumeData;
use libfuzzer_sys::fuzz_target;

fn info() -> &'static ferro_metainfo::Info {
    static INFO: OnceLock<ferro_metainfo::Info> = OnceLock::new();
    INFO.get_or_init(|| {
        // Two files, three pieces of 16 KiB.
        let mut raw = b"d5:filesld6:lengthi20000e4:pathl1:aeed6:lengthi20000e4:pathl1:beee4:name1:d12:piece lengthi16384e6:pieces60:".to_vec();
        raw.extend_from_slice(&[7u8; 60]);
        raw.push(b'e');
        ferro_metainfo::Info::from_bytes(&raw).expect("valid info")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(r) = ResumeData::from_bytes(data) else { return };
    let again = r.to_bytes().expect("encodes");
    assert_eq!(ResumeData::from_bytes(&again).expect("re-parses"), r);
    let paths: Vec<Option<PathBuf>> = vec![None; info().files().len()];
    let _ = r.plan(info(), &paths);
    let _ = r.file_priorities(info().files().len());
});
