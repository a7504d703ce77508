//! Peer exchange (BEP 11). It will own the ut_pex message codec (`added`, `added.f`, `added6`, `dropped`, ...), typed peer flags, and a sans-IO per-connection state that computes the delta since the last message, with at most one message a minute and at most 50 added and 50 dropped peers per message.
#![deny(missing_docs)]
