//! UDP trackers (BEP 15): the packet codec and the client state machine.

pub mod client;
pub mod packet;

pub use client::{UdpClient, UdpConfig, UdpEvent, UdpOperation};
pub use packet::{Request, Response, UdpAnnounce};
