//! Third-party processes for the interop tests: a libtorrent helper script
//! run by /usr/bin/python3 (Debian's bindings), killed by PID when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A libtorrent process, killed (by PID) when the test ends.
pub struct Lt {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Lt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `/usr/bin/python3 ARGS` with its stdout lines readable through [`Lt::wait_for`];
/// fails the test clearly when python3-libtorrent is missing.
pub fn spawn(args: &[&str]) -> Lt {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "python3-libtorrent is missing: install it (cargo xtask install-clients)"
    );
    let mut child = Command::new("/usr/bin/python3")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start python3");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    Lt { child, lines }
}

impl Lt {
    /// Waits for a line starting with `what`; returns the rest of it.
    pub fn wait_for(&self, what: &str, timeout: Duration) -> String {
        let line = self.wait_line(&format!("{what} line"), timeout, |l| l.starts_with(what));
        line[what.len()..].trim().to_owned()
    }

    /// Waits for a line for which `f` holds and returns it; panics after
    /// `timeout`, naming `what` and the last line seen.
    pub fn wait_line(&self, what: &str, timeout: Duration, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if f(&l) => return l,
                Ok(l) => last = l,
                Err(e) => panic!("libtorrent: no {what} ({e}); last line: {last}"),
            }
        }
    }
}
