//! Service logic shared by the host runtime and the firmware: message types
//! and state machines, one module per service. No I/O happens here.

pub mod answer;
#[cfg(any(feature = "exec", feature = "files"))]
pub mod auth;
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

// `core::error::Error` for the files and exec-auth errors sits here, not
// beside their `Display` impls, only to keep this change apart from work
// going on in those files at the same time; move them there when it lands.
#[cfg(feature = "exec")]
impl core::error::Error for exec::auth::TokenError {}
#[cfg(feature = "files")]
mod file_errors {
    use super::file::{name, native, seed002, seed004};
    impl core::error::Error for native::RequestError {}
    impl core::error::Error for native::TransferError {}
    impl core::error::Error for name::NameError {}
    impl core::error::Error for seed002::CommandError {}
    impl core::error::Error for seed002::UploadError {}
    impl core::error::Error for seed004::CommandError {}
}
