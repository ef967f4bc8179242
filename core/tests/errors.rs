//! Every error type of the public API implements `core::error::Error`, so
//! callers can box it, put it in `anyhow`, or chain it with `source()`.
//! A type missing here (or its impl) fails to compile.

use core::error::Error;

fn is_error<E: Error>() {}

#[test]
fn every_error_type_implements_core_error() {
    use wirekit_core::codec::{frame, length, line};
    use wirekit_core::service::{chat, exec, file};
    is_error::<frame::FrameError>();
    is_error::<length::LengthError>();
    is_error::<line::LineError>();
    is_error::<wirekit_core::size::SizeError>();
    is_error::<wirekit_core::strftime::StrftimeError>();
    is_error::<wirekit_core::wire::PrefixError>();
    is_error::<wirekit_core::wire::HeaderError>();
    is_error::<wirekit_core::wire::EncodeError>();
    is_error::<wirekit_core::blocking::IoError<core::convert::Infallible>>();
    is_error::<chat::NickError>();
    is_error::<exec::CommandError>();
    is_error::<exec::native::NativeError>();
    is_error::<exec::ack::AckError>();
    is_error::<exec::ack::SizeError>();
    is_error::<exec::auth::TokenError>();
    is_error::<file::native::RequestError>();
    is_error::<file::native::TransferError>();
    is_error::<file::name::NameError>();
    is_error::<file::seed002::CommandError>();
    is_error::<file::seed002::UploadError>();
    is_error::<file::seed004::CommandError>();
    is_error::<wirekit_core::service::talk::ContactError>();
    is_error::<wirekit_core::session::files::Error>();
    is_error::<wirekit_core::session::chat::Error>();
    is_error::<wirekit_core::session::exec::Error>();
    is_error::<wirekit_core::session::exec::ClientError>();
    is_error::<wirekit_core::session::files::client::ClientError>();
    is_error::<wirekit_core::session::files::client::seed::SeedError>();
    is_error::<wirekit_core::blocking::DriveError<frame::FrameError, (), frame::FrameError>>();
}
