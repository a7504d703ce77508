//! `ferro tracker`: starts, answers a BEP 15 connect on loopback, stops on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the tracker if the test fails before it stops it.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn tracker_serves_udp_and_stops_on_sigint() {
    let child = Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args([
            "tracker",
            "--http",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
            "--interval",
            "60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let mut out = BufReader::new(guard.0.stdout.take().unwrap());
    let mut udp = None;
    let mut http = None;
    for _ in 0..3 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        if let Some(u) = line.trim().strip_prefix("udp tracker: udp://") {
            udp = Some(u.trim_end_matches("/announce").to_owned());
        }
        if let Some(u) = line.trim().strip_prefix("http tracker: ") {
            http = Some(u.to_owned());
        }
    }
    assert!(http.unwrap().starts_with("http://127.0.0.1:"));
    let udp = udp.expect("udp address printed");

    // BEP 15 connect: protocol id, action 0, transaction id.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = 0x41727101980u64.to_be_bytes().to_vec();
    req.extend_from_slice(&0u32.to_be_bytes());
    req.extend_from_slice(&0xfeedu32.to_be_bytes());
    s.send_to(&req, &udp).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = s.recv_from(&mut buf).unwrap();
    assert_eq!(n, 16);
    assert_eq!(&buf[..8], &[0, 0, 0, 0, 0, 0, 0xfe, 0xed]);

    let pid = guard.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = guard.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    out.read_line(&mut rest).unwrap();
    assert_eq!(rest.trim(), "tracker stopped");
}
