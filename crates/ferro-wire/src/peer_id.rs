//! Peer ids: Ferro's own (Azureus style, BEP 20) and naming other clients from theirs.

use std::fmt;

use ferro_core::PeerId;
use rand::RngCore;

/// Ferro's two-letter client code in Azureus-style peer ids.
pub const CLIENT_CODE: &str = "FE";

/// `-FEvvvv-` from this crate's version: one character per component
/// (0-9, then A-Z for 10-35), major, minor, patch and a trailing `0`.
pub fn peer_id_prefix() -> [u8; 8] {
    let mut parts = env!("CARGO_PKG_VERSION")
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let mut out = *b"-FE0000-";
    for slot in out.iter_mut().skip(3).take(3) {
        *slot = version_char(parts.next().unwrap_or(0));
    }
    out
}

fn version_char(v: u32) -> u8 {
    match v {
        0..=9 => b'0' + v as u8,
        10..=35 => b'A' + (v - 10) as u8,
        _ => b'Z',
    }
}

/// A fresh peer id: `-FE0100-` (for version 0.1.0) and 12 random bytes.
pub fn generate_peer_id() -> PeerId {
    generate_peer_id_with(&mut rand::rng())
}

/// Like [`generate_peer_id`] with a caller's random source (deterministic tests).
pub fn generate_peer_id_with<R: RngCore + ?Sized>(rng: &mut R) -> PeerId {
    let mut id = [0u8; 20];
    id[..8].copy_from_slice(&peer_id_prefix());
    rng.fill_bytes(&mut id[8..]);
    PeerId(id)
}

/// A client's name and version as read from its peer id, for display.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientInfo {
    /// Client name, e.g. `libtorrent`; the raw code when the code is unknown.
    pub name: String,
    /// Version as the client writes it, e.g. `2.0.8`; may be empty.
    pub version: String,
}

impl fmt::Display for ClientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{} {}", self.name, self.version)
        }
    }
}

/// Azureus-style two-letter codes (the BEP 20 list and common practice).
const AZUREUS: &[(&str, &str)] = &[
    ("7T", "aTorrent"),
    ("AG", "Ares"),
    ("A~", "Ares"),
    ("AR", "Arctic"),
    ("AT", "Artemis"),
    ("AX", "BitPump"),
    ("AZ", "Vuze"),
    ("BB", "BitBuddy"),
    ("BC", "BitComet"),
    ("BE", "BitTorrent SDK"),
    ("BF", "Bitflu"),
    ("BG", "BTG"),
    ("BI", "BiglyBT"),
    ("BL", "BitBlinder"),
    ("BP", "BitTorrent Pro"),
    ("BR", "BitRocket"),
    ("BS", "BTSlave"),
    ("BT", "BitTorrent"),
    ("BW", "BitWombat"),
    ("CD", "Enhanced CTorrent"),
    ("CT", "CTorrent"),
    ("DE", "Deluge"),
    ("DP", "Propagate Data Client"),
    ("EB", "EBit"),
    ("ES", "electric sheep"),
    ("FC", "FileCroc"),
    ("FD", "Free Download Manager"),
    ("FE", "Ferro"),
    ("FT", "FoxTorrent"),
    ("FW", "FrostWire"),
    ("FX", "Freebox BitTorrent"),
    ("GS", "GSTorrent"),
    ("HL", "Halite"),
    ("HN", "Hydranode"),
    ("KG", "KGet"),
    ("KT", "KTorrent"),
    ("LC", "LeechCraft"),
    ("LH", "LH-ABC"),
    ("LP", "Lphant"),
    ("LT", "libtorrent"),
    ("lt", "libTorrent (rakshasa)"),
    ("LW", "LimeWire"),
    ("MO", "MonoTorrent"),
    ("MP", "MooPolice"),
    ("MR", "Miro"),
    ("MT", "MoonlightTorrent"),
    ("NX", "Net Transport"),
    ("OS", "OneSwarm"),
    ("OT", "OmegaTorrent"),
    ("PD", "Pando"),
    ("PI", "PicoTorrent"),
    ("qB", "qBittorrent"),
    ("QD", "QQDownload"),
    ("QT", "Qt 4 Torrent example"),
    ("RT", "Retriever"),
    ("RZ", "RezTorrent"),
    ("rQ", "rqbit"),
    ("S~", "Shareaza alpha/beta"),
    ("SB", "Swiftbit"),
    ("SD", "Thunder"),
    ("SM", "SoMud"),
    ("SS", "SwarmScope"),
    ("ST", "SymTorrent"),
    ("st", "sharktorrent"),
    ("SZ", "Shareaza"),
    ("TB", "Torch"),
    ("TE", "terasaur Seed Bank"),
    ("TL", "Tribler"),
    ("TN", "TorrentDotNET"),
    ("TR", "Transmission"),
    ("TS", "Torrentstorm"),
    ("TT", "TuoTu"),
    ("UL", "uLeecher!"),
    ("UM", "µTorrent for Mac"),
    ("UT", "µTorrent"),
    ("UW", "µTorrent Web"),
    ("VG", "Vagaa"),
    ("WD", "WebTorrent Desktop"),
    ("WT", "BitLet"),
    ("WW", "WebTorrent"),
    ("WY", "FireTorrent"),
    ("XF", "Xfplay"),
    ("XL", "Xunlei"),
    ("XS", "XSwifter"),
    ("XT", "XanTorrent"),
    ("XX", "Xtorrent"),
    ("ZT", "ZipTorrent"),
];

/// Shadow-style first characters (BEP 20).
const SHADOW: &[(u8, &str)] = &[
    (b'A', "ABC"),
    (b'O', "Osprey Permaseed"),
    (b'Q', "BTQueue"),
    (b'R', "Tribler"),
    (b'S', "Shadow's client"),
    (b'T', "BitTornado"),
    (b'U', "UPnP NAT Bit Torrent"),
];

/// Reads the client name and version from a peer id, or `None` when the id
/// follows no known convention (many clients send random ids).
pub fn client_info(peer_id: &PeerId) -> Option<ClientInfo> {
    let id = peer_id.as_bytes();
    azureus(id)
        .or_else(|| bitcomet(id))
        .or_else(|| aria2(id))
        .or_else(|| mainline(id))
        .or_else(|| shadow(id))
}

fn info(name: &str, version: String) -> Option<ClientInfo> {
    Some(ClientInfo {
        name: name.to_owned(),
        version,
    })
}

/// One version character: 0-9, A-Z = 10-35, a-z = 36-61 (BEP 20 Shadow style;
/// Azureus-style clients such as libtorrent use the same digits).
fn digit(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 36),
        b'.' => Some(62),
        _ => None,
    }
}

fn join(parts: &[u32]) -> String {
    parts
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// `-XXvvvv-` (BEP 20).
fn azureus(id: &[u8; 20]) -> Option<ClientInfo> {
    if id[0] != b'-' || id[7] != b'-' {
        return None;
    }
    let code = std::str::from_utf8(&id[1..3]).ok()?;
    if !code.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'~') {
        return None;
    }
    let v = &id[3..7];
    if !v.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let name = AZUREUS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, n)| *n);
    let d: Vec<u32> = v.iter().map(|c| digit(*c).unwrap_or(0)).collect();
    let ch = |i: usize| char::from(v[i]);
    let version = match code {
        // Transmission: 0.x-3.x as `X.YZ`, 4.x on as `X.Y.Z`; a last `Z` or `X`
        // marks a development or beta build.
        "TR" if d[0] < 4 => format!("{}.{}{}", ch(0), ch(1), ch(2)),
        "TR" => join(&d[..3]),
        // µTorrent: three digits and a build-type letter (B beta, W web...).
        "UT" | "UM" | "UW" | "UE" => join(&d[..3]),
        // BitComet's Azureus form: `-BC0152-` is 1.52.
        "BC" => format!("{}.{}{}", d[1], ch(2), ch(3)),
        // Deluge 2.x ends with a letter tag (`-DE211s-`).
        _ if v[3].is_ascii_lowercase() => join(&d[..3]),
        _ => {
            let n = if d[3] == 0 { 3 } else { 4 };
            join(&d[..n])
        }
    };
    info(name, version)
}

/// `exbc` + two version bytes (+ `LORD` for BitLord).
fn bitcomet(id: &[u8; 20]) -> Option<ClientInfo> {
    let name = match &id[..4] {
        b"exbc" | b"FUTB" | b"xUTB" => {
            if &id[6..10] == b"LORD" {
                "BitLord"
            } else {
                "BitComet"
            }
        }
        _ => return None,
    };
    info(name, format!("{}.{:02}", id[4], id[5]))
}

/// aria2: `A2-<major>-<minor>-<patch>-` followed by random bytes.
fn aria2(id: &[u8; 20]) -> Option<ClientInfo> {
    let rest = id.strip_prefix(b"A2-")?;
    let parts: Vec<u32> = rest
        .split(|c| *c == b'-')
        .take(3)
        .map(|p| std::str::from_utf8(p).ok()?.parse().ok())
        .collect::<Option<_>>()?;
    if parts.len() != 3 {
        return None;
    }
    info("aria2", join(&parts))
}

/// Mainline: `M4-3-6--` (version digits separated by dashes, then `--`).
fn mainline(id: &[u8; 20]) -> Option<ClientInfo> {
    let name = match id[0] {
        b'M' => "Mainline",
        b'Q' => "Queen Bee",
        _ => return None,
    };
    let end = id.windows(2).position(|w| w == b"--")?;
    let body = id.get(1..end)?;
    if body.is_empty() || body.first() == Some(&b'-') {
        return None;
    }
    let parts: Vec<u32> = body
        .split(|c| *c == b'-')
        .map(|p| std::str::from_utf8(p).ok()?.parse().ok())
        .collect::<Option<_>>()?;
    info(name, join(&parts))
}

/// Shadow style: client letter, up to five version characters padded with
/// `-`, then `---` (BEP 20).
fn shadow(id: &[u8; 20]) -> Option<ClientInfo> {
    let name = SHADOW.iter().find(|(c, _)| *c == id[0])?.1;
    if &id[6..9] != b"---" {
        return None;
    }
    let parts: Vec<u32> = id[1..6]
        .iter()
        .take_while(|c| **c != b'-')
        .map(|c| digit(*c))
        .collect::<Option<_>>()?;
    if parts.is_empty() {
        return None;
    }
    info(name, join(&parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn id(prefix: &[u8]) -> PeerId {
        let mut b = [b'x'; 20];
        b[..prefix.len()].copy_from_slice(prefix);
        PeerId(b)
    }

    fn ci(prefix: &[u8]) -> Option<(String, String)> {
        client_info(&id(prefix)).map(|c| (c.name, c.version))
    }

    fn some(n: &str, v: &str) -> Option<(String, String)> {
        Some((n.into(), v.into()))
    }

    #[test]
    fn ferro_prefix_from_cargo_version() {
        let p = peer_id_prefix();
        assert_eq!(&p[..3], b"-FE");
        assert_eq!(p[7], b'-');
        if env!("CARGO_PKG_VERSION") == "0.1.0" {
            assert_eq!(&p, b"-FE0100-");
        }
        let a = generate_peer_id_with(&mut rand::rngs::StdRng::seed_from_u64(1));
        let b = generate_peer_id_with(&mut rand::rngs::StdRng::seed_from_u64(2));
        assert_eq!(&a.0[..8], &p);
        assert_ne!(a, b);
        assert_ne!(generate_peer_id(), generate_peer_id());
        let me = client_info(&a).unwrap();
        assert_eq!(me.name, "Ferro");
        assert_eq!(
            me.to_string(),
            format!("Ferro {}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn azureus_style_clients() {
        assert_eq!(ci(b"-LT2080-"), some("libtorrent", "2.0.8"));
        assert_eq!(ci(b"-LT20B0-"), some("libtorrent", "2.0.11"));
        assert_eq!(ci(b"-LT1217-"), some("libtorrent", "1.2.1.7"));
        assert_eq!(ci(b"-qB4520-"), some("qBittorrent", "4.5.2"));
        assert_eq!(ci(b"-TR3000-"), some("Transmission", "3.00"));
        assert_eq!(ci(b"-TR294Z-"), some("Transmission", "2.94"));
        assert_eq!(ci(b"-TR4050-"), some("Transmission", "4.0.5"));
        assert_eq!(ci(b"-UT355W-"), some("µTorrent", "3.5.5"));
        assert_eq!(ci(b"-rQ8000-"), some("rqbit", "8.0.0"));
        assert_eq!(ci(b"-DE13F0-"), some("Deluge", "1.3.15"));
        assert_eq!(ci(b"-DE211s-"), some("Deluge", "2.1.1"));
        assert_eq!(ci(b"-BC0152-"), some("BitComet", "1.52"));
        assert_eq!(ci(b"-AZ5770-"), some("Vuze", "5.7.7"));
        assert_eq!(ci(b"-lt0D80-"), some("libTorrent (rakshasa)", "0.13.8"));
        // Unknown code: shown as the code itself.
        assert_eq!(ci(b"-ZZ1000-"), some("ZZ", "1.0.0"));
    }

    #[test]
    fn other_styles() {
        assert_eq!(ci(b"exbc\x00\x38"), some("BitComet", "0.56"));
        assert_eq!(ci(b"exbc\x00\x38LORD"), some("BitLord", "0.56"));
        assert_eq!(ci(b"A2-1-36-0-"), some("aria2", "1.36.0"));
        assert_eq!(ci(b"M4-3-6--"), some("Mainline", "4.3.6"));
        assert_eq!(ci(b"M7-10-3--"), some("Mainline", "7.10.3"));
        assert_eq!(ci(b"S58B-----"), some("Shadow's client", "5.8.11"));
        assert_eq!(ci(b"T03I-----"), some("BitTornado", "0.3.18"));
    }

    #[test]
    fn random_ids_are_unknown() {
        assert_eq!(client_info(&PeerId([0; 20])), None);
        assert_eq!(client_info(&PeerId([0xff; 20])), None);
        assert_eq!(ci(b"-\x01\x02abcd-"), None);
        assert_eq!(ci(b"A2-x-1-2-"), None);
        assert_eq!(ci(b"M--"), None);
        assert_eq!(ci(b"S-----xyz"), None);
    }
}
