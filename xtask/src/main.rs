//! `cargo xtask`: Ferro's developer tasks.
fn main() {}
