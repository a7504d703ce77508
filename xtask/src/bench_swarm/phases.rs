//! Where a leecher's wall time went, from the lines it printed.

use super::Phases;

/// Phases from progress samples `(time, bytes or fraction)` and the time of
/// completion. The first byte is extrapolated back from the first sample
/// with data at the rate to the next sample (samples are a second apart).
pub(super) fn phases(ready: f64, samples: &[(f64, f64)], complete: f64) -> Phases {
    let mut first_byte = ready;
    if let Some(k) = samples.iter().position(|&(_, d)| d > 0.0) {
        let (tk, dk) = samples[k];
        let floor = if k > 0 { samples[k - 1].0 } else { ready };
        let rate = samples
            .get(k + 1)
            .filter(|&&(tn, dn)| dn > dk && tn > tk)
            .map(|&(tn, dn)| (dn - dk) / (tn - tk));
        first_byte = match rate {
            Some(r) => (tk - dk / r).max(floor),
            None => floor,
        };
    }
    Phases {
        ready,
        first_byte: first_byte.min(complete),
        complete,
    }
}

/// `ferro download --json`: the first line, `progress` lines'
/// `"downloaded"`, and the `completed` event.
pub(super) fn ferro_phases(out: &[(f64, String)]) -> Option<Phases> {
    let ready = out.first()?.0;
    let samples: Vec<(f64, f64)> = out
        .iter()
        .filter(|(_, l)| l.contains("\"event\":\"progress\""))
        .filter_map(|(t, l)| Some((*t, json_number(l, "downloaded")?)))
        .collect();
    let complete = out
        .iter()
        .find(|(_, l)| l.contains("\"event\":\"completed\""))?
        .0;
    Some(phases(ready, &samples, complete))
}

/// client_lt_peer.py: `LISTENING`, `PROGRESS <fraction> <peers>`, `FINISHED`.
pub(super) fn lt_phases(out: &[(f64, String)]) -> Option<Phases> {
    let ready = out.iter().find(|(_, l)| l.starts_with("LISTENING"))?.0;
    let samples: Vec<(f64, f64)> = out
        .iter()
        .filter_map(|(t, l)| {
            Some((
                *t,
                l.strip_prefix("PROGRESS ")?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()?,
            ))
        })
        .collect();
    let complete = out.iter().find(|(_, l)| l == "FINISHED")?.0;
    Some(phases(ready, &samples, complete))
}

/// The number after `"key":` in a flat JSON line.
pub(super) fn json_number(line: &str, key: &str) -> Option<f64> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = line.get(at..)?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    rest.get(..end)?.parse().ok()
}
