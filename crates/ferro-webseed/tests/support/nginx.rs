//! nginx (Debian's /usr/sbin/nginx) as a web seed on 127.0.0.1 for interop
//! tests: one process in the foreground, killed by its PID when the guard
//! drops. Shared by path with ferro-client's interop test.

#![allow(dead_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nginx binary the interop tests run.
pub const NGINX: &str = "/usr/sbin/nginx";

/// Kills the child (by its own PID) when the test ends, pass or fail.
pub struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx in the foreground, one process (`master_process off`, so killing
/// its PID leaves no worker behind), serving `root` on 127.0.0.1:`port`,
/// with every path it writes inside `state`.
pub fn start_nginx(root: &Path, port: u16, state: &Path) -> Guard {
    assert!(
        Path::new(NGINX).exists(),
        "nginx is not installed (Debian package `nginx-light` or `nginx`); run `cargo xtask install-clients`"
    );
    for d in ["tmp", "logs"] {
        std::fs::create_dir_all(state.join(d)).unwrap();
    }
    let s = state.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {s}/nginx.pid;\n\
         error_log {s}/logs/error.log;\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log {s}/logs/access.log;\n  client_body_temp_path {s}/tmp/body;\n\
         proxy_temp_path {s}/tmp/proxy;\n  fastcgi_temp_path {s}/tmp/fastcgi;\n\
         uwsgi_temp_path {s}/tmp/uwsgi;\n  scgi_temp_path {s}/tmp/scgi;\n\
         server {{\n    listen 127.0.0.1:{port};\n    root {};\n    location / {{ }}\n  }}\n}}\n",
        root.display()
    );
    let conf_path = state.join("nginx.conf");
    std::fs::File::create(&conf_path)
        .unwrap()
        .write_all(conf.as_bytes())
        .unwrap();
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(state)
        .arg("-e")
        .arg(state.join("logs/error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let guard = Guard(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen on {addr}; log: {}",
            std::fs::read_to_string(state.join("logs/error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    guard
}

/// nginx runs as root here and may drop to `nobody`: let it read the files.
pub fn world_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
