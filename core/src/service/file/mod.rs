//! File transfer (`files`): the sans-I/O half of the service.
//!
//! One listener speaks three dialects, told apart by [`dialect::detect`]:
//! wirekit's own frames ([`native`]), seed 002's `get`/`put` with
//! per-chunk md5 frames ([`seed002`]) and seed 000's bare-name download
//! ([`seed000`]). Seed 004's size/ack/bytes/md5 exchange ([`seed004`]) has
//! its own listener because its commands look like seed 002's. Every name
//! a client sends passes [`name::check`] before the host builds a path.

pub mod access;
pub mod dialect;
pub mod name;
pub mod native;
pub mod seed000;
pub mod seed002;
pub mod seed004;
pub mod text;
