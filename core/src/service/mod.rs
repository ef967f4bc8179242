//! Service logic shared by the host runtime and the firmware: message types
//! and state machines, one module per service. No I/O happens here.

pub mod answer;
#[cfg(feature = "chat")]
pub mod chat;
#[cfg(feature = "echo")]
pub mod echo;
#[cfg(feature = "exec")]
pub mod exec;
#[cfg(feature = "files")]
pub mod file;
#[cfg(feature = "rfc")]
pub mod rfc;
#[cfg(feature = "talk")]
pub mod talk;
#[cfg(feature = "time")]
pub mod time;
