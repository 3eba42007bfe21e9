//! Connections: the pump that holds one connection's machine and TLS without the
//! socket, the blocking socket loop, and the listening sockets.

pub mod listen;
pub mod pump;
pub mod socket;
