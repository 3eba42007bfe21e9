//! Connections: the pump that holds one connection's machine and TLS without the
//! socket, the blocking socket loop, the listening sockets, and the protocol transcripts.

pub mod listen;
pub mod pump;
pub mod socket;
pub mod transcript;
