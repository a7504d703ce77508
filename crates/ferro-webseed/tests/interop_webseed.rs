//! Interop with nginx as a web seed (written next).
