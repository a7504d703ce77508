//! ferro-webseed's judgement of a web seed's answer: any status, Content-Range
//! and Content-Length never panic, and a 206 is accepted only when its
//! Content-Range names exactly the bytes asked for. Any info dictionary that
//! parses gives range plans that never panic and tile the non-padding bytes.
#![no_main]

use ferro_metainfo::Info;
use ferro_webseed::{BodyPlan, RangeRequest, check_response, plan_range};
use libfuzzer_sys::fuzz_target;

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    // Layout: start(8) len(8) content_length(8) status(2) header(rest).
    let start = u64_at(data, 0) % (1 << 48);
    let len = u64_at(data, 8) % (1 << 32);
    let cl = u64_at(data, 16);
    let status = u16::from_le_bytes([data.get(24).copied().unwrap_or(0), data.get(25).copied().unwrap_or(0)]) % 600;
    let header = String::from_utf8_lossy(data.get(26..).unwrap_or_default());
    let req = RangeRequest { file_index: 0, url: "http://127.0.0.1/f".into(), start, len };
    let _ = req.range_header();
    for content_length in [None, Some(cl)] {
        let got = check_response(&req, status, Some(&header), content_length);
        if status == 206 && got.is_ok() {
            assert_eq!(got, Ok(BodyPlan::Exact));
            let want = format!("bytes {}-{}/", start, start.saturating_add(len).saturating_sub(1));
            assert!(header.trim().starts_with(&want), "{header:?} accepted for {want}");
        }
        let _ = check_response(&req, status, None, content_length);
    }

    // The same bytes as an info dictionary: plans over any range.
    if let Ok(info) = Info::from_bytes(data) {
        let total = info.total_length();
        if total > 0 {
            let offset = start % total;
            let len = (len % (total - offset)).max(1);
            let plan = plan_range(&info, "http://127.0.0.1/s/", offset, len);
            let padding: u64 = info
                .files()
                .iter()
                .filter(|f| f.is_padding())
                .map(|f| f.end().min(offset + len).saturating_sub(f.offset.max(offset)))
                .sum();
            assert_eq!(plan.iter().map(|r| r.len).sum::<u64>() + padding, len);
        }
    }
});
