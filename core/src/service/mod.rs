//! Service logic shared by the host runtime and the firmware: message types
//! and state machines, one module per service. No I/O happens here.

pub mod answer;
pub mod chat;
pub mod echo;
pub mod exec;
pub mod file;
pub mod rfc;
pub mod talk;
pub mod time;
