//! The `ferro` command.
fn main() {}
