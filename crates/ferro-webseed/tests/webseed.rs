//! BEP 19 URL rules, range plans across files and padding, response checks, backoff.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferro_bencode::OwnedValue as V;
use ferro_metainfo::Info;
use ferro_webseed::{
    BodyPlan, Error, HealthConfig, RangeRequest, SeedHealth, check_response, file_url, plan_range,
};
use proptest::prelude::*;

/// An info dictionary; `files` empty means a single-file torrent of `single` bytes.
fn info(name: &str, files: &[(&[&str], u64, bool)], single: u64, piece_len: u64) -> Info {
    let mut d: BTreeMap<Vec<u8>, V> = BTreeMap::new();
    d.insert(b"name".to_vec(), V::from(name));
    d.insert(b"piece length".to_vec(), V::Int(piece_len as i64));
    let total: u64 = if files.is_empty() {
        single
    } else {
        files.iter().map(|f| f.1).sum()
    };
    let pieces = total.div_ceil(piece_len).max(1);
    d.insert(b"pieces".to_vec(), V::Bytes(vec![0; 20 * pieces as usize]));
    if files.is_empty() {
        d.insert(b"length".to_vec(), V::Int(single as i64));
    } else {
        let list = files
            .iter()
            .map(|(path, len, pad)| {
                let mut f = BTreeMap::new();
                f.insert(b"length".to_vec(), V::Int(*len as i64));
                f.insert(
                    b"path".to_vec(),
                    V::List(path.iter().map(|c| V::from(*c)).collect()),
                );
                if *pad {
                    f.insert(b"attr".to_vec(), V::from("p"));
                }
                V::Dict(f)
            })
            .collect();
        d.insert(b"files".to_vec(), V::List(list));
    }
    Info::from_bytes(&V::Dict(d).encode()).unwrap()
}

#[test]
fn single_file_urls() {
    let i = info("My File.iso", &[], 1000, 16384);
    assert_eq!(
        file_url(&i, "http://127.0.0.1/dl/My%20File.iso", 0).unwrap(),
        "http://127.0.0.1/dl/My%20File.iso"
    );
    assert_eq!(
        file_url(&i, "http://127.0.0.1/dl/", 0).unwrap(),
        "http://127.0.0.1/dl/My%20File.iso"
    );
    assert_eq!(file_url(&i, "http://127.0.0.1/dl/", 1), None);
}

#[test]
fn multi_file_urls_encode_each_component() {
    let i = info(
        "Album #1",
        &[
            (&["CD 1", "01 - a&b?.flac"], 10, false),
            (&["ü.txt"], 5, false),
        ],
        0,
        16384,
    );
    assert_eq!(
        file_url(&i, "http://127.0.0.1/m/", 0).unwrap(),
        "http://127.0.0.1/m/Album%20%231/CD%201/01%20-%20a%26b%3F.flac"
    );
    // A base without the trailing slash gets one.
    assert_eq!(
        file_url(&i, "http://127.0.0.1/m", 1).unwrap(),
        "http://127.0.0.1/m/Album%20%231/%C3%BC.txt"
    );
}

#[test]
fn plans_cross_files_and_skip_padding() {
    // a: 10 bytes, pad: 6 bytes (zeros), b: 0 bytes, c: 30 bytes; pieces of 16.
    let i = info(
        "t",
        &[
            (&["a"], 10, false),
            (&[".pad", "6"], 6, true),
            (&["b"], 0, false),
            (&["c"], 30, false),
        ],
        0,
        16,
    );
    let base = "http://127.0.0.1/s/";
    let p0 = plan_range(&i, base, 0, 16);
    assert_eq!(
        p0,
        [RangeRequest {
            file_index: 0,
            url: format!("{base}t/a"),
            start: 0,
            len: 10
        }]
    );
    let all = plan_range(&i, base, 0, 46);
    assert_eq!(
        all.len(),
        2,
        "padding and the empty file are never requested: {all:?}"
    );
    assert_eq!((all[1].file_index, all[1].start, all[1].len), (3, 0, 30));
    let mid = plan_range(&i, base, 8, 20);
    assert_eq!(
        mid.iter()
            .map(|r| (r.file_index, r.start, r.len))
            .collect::<Vec<_>>(),
        [(0, 8, 2), (3, 0, 12)]
    );
    assert_eq!(mid[1].range_header(), "bytes=0-11");
}

#[test]
fn response_checks() {
    let req = RangeRequest {
        file_index: 0,
        url: "http://127.0.0.1/f".into(),
        start: 100,
        len: 50,
    };
    assert_eq!(
        check_response(&req, 206, Some("bytes 100-149/1000"), Some(50)),
        Ok(BodyPlan::Exact)
    );
    assert_eq!(
        check_response(&req, 206, Some("bytes 100-149/*"), None),
        Ok(BodyPlan::Exact)
    );
    assert!(matches!(
        check_response(&req, 206, Some("bytes 0-49/1000"), None),
        Err(Error::ContentRange { .. })
    ));
    for bad in [
        "bytes 100-149",
        "bytes 100-149/149",
        "bytes 100-149/x",
        "100-149/1000",
    ] {
        assert!(
            matches!(
                check_response(&req, 206, Some(bad), None),
                Err(Error::ContentRange { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        check_response(&req, 206, None, None),
        Err(Error::ContentRange { .. })
    ));
    assert!(matches!(
        check_response(&req, 206, Some("bytes 100-149/1000"), Some(70)),
        Err(Error::ContentRange { .. })
    ));
    // A server that ignores Range: skip to the wanted bytes, if the body is long enough.
    assert_eq!(
        check_response(&req, 200, None, Some(1000)),
        Ok(BodyPlan::Skip(100))
    );
    assert_eq!(
        check_response(&req, 200, None, None),
        Ok(BodyPlan::Skip(100))
    );
    assert_eq!(
        check_response(&req, 200, None, Some(120)),
        Err(Error::ShortBody {
            len: 120,
            start: 100,
            end: 150
        })
    );
    assert_eq!(
        check_response(&req, 404, None, None),
        Err(Error::NotFound(404))
    );
    assert_eq!(
        check_response(&req, 503, None, None),
        Err(Error::Server(503))
    );
    assert_eq!(
        check_response(&req, 416, None, None),
        Err(Error::Status(416))
    );
}

#[test]
fn health_backs_off_remembers_missing_files_and_drops_corrupt_seeds() {
    let t0 = Instant::now();
    let mut h = SeedHealth::new(HealthConfig::default());
    assert!(h.usable(t0, 0));
    h.on_error(t0, 0, Some(&Error::NotFound(404)));
    assert!(
        !h.usable(t0, 0) && h.usable(t0, 1),
        "404 marks only that file"
    );
    h.on_error(t0, 1, Some(&Error::Server(500)));
    assert!(!h.usable(t0 + Duration::from_secs(14), 1));
    assert!(h.usable(t0 + Duration::from_secs(15), 1));
    h.on_error(t0, 1, None); // a timeout: second failure in a row doubles the wait
    assert_eq!(h.retry_at(), Some(t0 + Duration::from_secs(30)));
    for _ in 0..40 {
        h.on_error(t0, 1, None);
    }
    assert_eq!(h.retry_at(), Some(t0 + Duration::from_secs(1800)), "capped");
    h.on_success();
    assert!(h.usable(t0, 1));
    for _ in 0..3 {
        h.on_hash_failure();
    }
    assert!(h.is_dropped() && !h.usable(t0, 1));
}

proptest! {
    /// The plan of any byte range covers exactly its non-padding bytes, in order.
    #[test]
    fn plans_tile_the_non_padding_bytes(
        sizes in proptest::collection::vec((0u64..40, any::<bool>()), 1..8),
        offset in 0u64..200, len in 1u64..200,
    ) {
        let names: Vec<String> = (0..sizes.len()).map(|i| format!("f{i}")).collect();
        let paths: Vec<[&str; 1]> = names.iter().map(|n| [n.as_str()]).collect();
        let mut files: Vec<(&[&str], u64, bool)> = Vec::new();
        for (p, (s, pad)) in paths.iter().zip(&sizes) {
            files.push((&p[..], *s, *pad && *s > 0));
        }
        let total: u64 = sizes.iter().map(|s| s.0).sum();
        prop_assume!(total > 0);
        let i = info("t", &files, 0, 16);
        let offset = offset % total;
        let len = len.min(total - offset);
        let plan = plan_range(&i, "http://127.0.0.1/", offset, len);
        let padding: u64 = i.files().iter().filter(|f| f.is_padding())
            .map(|f| f.end().min(offset + len).saturating_sub(f.offset.max(offset))).sum();
        prop_assert_eq!(plan.iter().map(|r| r.len).sum::<u64>() + padding, len);
        for r in &plan {
            let f = &i.files()[r.file_index];
            prop_assert!(!f.is_padding());
            prop_assert!(r.start + r.len <= f.length);
        }
    }
}

proptest! {
    /// Any Content-Range header is judged without panicking, and a 206 is
    /// accepted exactly when it names the requested bytes.
    #[test]
    fn content_range_of_any_shape_never_panics(
        header in ".{0,40}", start in any::<u64>(), len in any::<u64>(), cl in any::<Option<u64>>(),
        status in 100u16..600,
    ) {
        let req = RangeRequest { file_index: 0, url: "http://127.0.0.1/f".into(), start, len };
        let _ = req.range_header();
        let got = check_response(&req, status, Some(&header), cl);
        if status == 206 && got.is_ok() {
            let want = format!("bytes {}-{}/", req.start, req.start.saturating_add(req.len).saturating_sub(1));
            prop_assert!(header.trim().starts_with(&want), "{header:?} accepted for {want}");
        }
    }

    /// The header a correct server sends for a request is always accepted,
    /// whatever total size it names.
    #[test]
    fn matching_content_range_is_accepted(
        start in 0u64..1 << 50, len in 1u64..1 << 30, beyond in proptest::option::of(0u64..1 << 40),
    ) {
        let req = RangeRequest { file_index: 0, url: "http://127.0.0.1/f".into(), start, len };
        let total = beyond.map_or("*".to_string(), |b| (start + len + b).to_string());
        let header = format!("bytes {}-{}/{total}", start, start + len - 1);
        prop_assert_eq!(check_response(&req, 206, Some(&header), Some(len)), Ok(BodyPlan::Exact));
        prop_assert_eq!(check_response(&req, 206, Some(&header), Some(len + 1)).is_err(), true);
        prop_assert_eq!(req.range_header(), format!("bytes={}-{}", start, start + len - 1));
    }
}
