//! Helpers shared by the chat and talk integration tests.
// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod proc;
pub mod raw;
