//! UDP announce and scrape (BEP 15) over a tokio socket.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::udp::packet::MAX_PACKET;
use crate::{
    AnnounceRequest, AnnounceResponse, Error, InfoHash, ScrapeResponse, UdpClient, UdpConfig,
    UdpEvent, UdpOperation,
};

/// One UDP tracker: a connected socket and the [`UdpClient`] state machine
/// (which keeps the connection id for reuse within a minute).
#[derive(Debug)]
pub struct UdpTracker {
    socket: UdpSocket,
    tracker: SocketAddr,
    client: UdpClient,
}

/// `udp://host:port[/...]` → (host, port).
fn host_port(url: &str) -> Result<(String, u16), Error> {
    let u = url::Url::parse(url).map_err(|e| Error::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if u.scheme() != "udp" {
        return Err(Error::UnsupportedScheme(u.scheme().to_owned()));
    }
    let bad = |reason: &str| Error::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let host = u.host_str().ok_or_else(|| bad("no host"))?;
    let port = u.port().ok_or_else(|| bad("no port"))?;
    // IPv6 literals come back bracketed from `host_str`.
    Ok((host.trim_matches(['[', ']']).to_owned(), port))
}

impl UdpTracker {
    /// Resolves the `udp://` URL and binds a socket of the same family.
    pub async fn connect(url: &str, config: UdpConfig) -> Result<Self, Error> {
        Self::connect_from(url, None, config).await
    }

    /// As [`connect`](Self::connect), with the socket bound to `local` when
    /// given (it must be of the tracker's address family).
    pub async fn connect_from(
        url: &str,
        local: Option<IpAddr>,
        config: UdpConfig,
    ) -> Result<Self, Error> {
        let (host, port) = host_port(url)?;
        let tracker = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| Error::Transport(format!("resolving {host}: {e}")))?
            .next()
            .ok_or_else(|| Error::Transport(format!("{host} has no address")))?;
        Self::with_addr_from(tracker, local, config).await
    }

    /// A client for the tracker at `tracker`.
    pub async fn with_addr(tracker: SocketAddr, config: UdpConfig) -> Result<Self, Error> {
        Self::with_addr_from(tracker, None, config).await
    }

    /// A client for the tracker at `tracker`, its socket bound to `local`
    /// when given (else to the unspecified address of the tracker's family).
    pub async fn with_addr_from(
        tracker: SocketAddr,
        local: Option<IpAddr>,
        config: UdpConfig,
    ) -> Result<Self, Error> {
        let local: SocketAddr = match local {
            Some(ip) => (ip, 0).into(),
            None if tracker.is_ipv6() => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
            None => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await.map_err(|e| Error::Bind {
            addr: local,
            reason: e.to_string(),
        })?;
        socket
            .connect(tracker)
            .await
            .map_err(|e| Error::Transport(format!("connecting to {tracker}: {e}")))?;
        Ok(UdpTracker {
            socket,
            tracker,
            client: UdpClient::new(config, tracker.is_ipv6()),
        })
    }

    /// The tracker's address.
    pub fn tracker_addr(&self) -> SocketAddr {
        self.tracker
    }

    /// Announces `req`.
    pub async fn announce(&mut self, req: &AnnounceRequest) -> Result<AnnounceResponse, Error> {
        match self.run(UdpOperation::Announce(req.clone())).await? {
            UdpEvent::Announced(r) => Ok(r),
            UdpEvent::Failed(e) => Err(e),
            UdpEvent::Scraped(_) => Err(Error::UdpAction(2)),
        }
    }

    /// Scrapes up to 74 torrents.
    pub async fn scrape(&mut self, info_hashes: &[InfoHash]) -> Result<ScrapeResponse, Error> {
        match self.run(UdpOperation::Scrape(info_hashes.to_vec())).await? {
            UdpEvent::Scraped(r) => Ok(r),
            UdpEvent::Failed(e) => Err(e),
            UdpEvent::Announced(_) => Err(Error::UdpAction(1)),
        }
    }

    async fn run(&mut self, op: UdpOperation) -> Result<UdpEvent, Error> {
        self.client.start(op, Instant::now())?;
        let mut buf = vec![0u8; MAX_PACKET];
        // The state machine gives up after max_retries timeouts; every pass
        // of this loop either sends, receives or hits a deadline, so it ends.
        loop {
            while let Some(d) = self.client.poll_transmit(Instant::now()) {
                // An ICMP error from an earlier send can surface here; treat
                // it like loss and let the timer retransmit.
                let _ = self.socket.send(&d).await;
            }
            if let Some(ev) = self.client.poll_event() {
                return Ok(ev);
            }
            let Some(deadline) = self.client.poll_timeout() else {
                return Err(Error::Transport(
                    "UDP client has nothing to wait for".into(),
                ));
            };
            tokio::select! {
                r = self.socket.recv(&mut buf) => {
                    if let Ok(n) = r {
                        // Stray or mismatched datagrams are dropped; the
                        // request stays outstanding.
                        let _ = self.client.handle_datagram(buf.get(..n).unwrap_or_default(), Instant::now());
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    self.client.handle_timeout(Instant::now());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_udp_urls() {
        assert_eq!(
            host_port("udp://t.example:6969/announce").unwrap(),
            ("t.example".to_owned(), 6969)
        );
        assert_eq!(host_port("udp://[::1]:80").unwrap(), ("::1".to_owned(), 80));
        assert!(matches!(
            host_port("udp://t.example"),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            host_port("http://t.example:1/a"),
            Err(Error::UnsupportedScheme(_))
        ));
    }
}
