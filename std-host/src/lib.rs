//! `wirekit-host`: the wirekit servers and clients over OS sockets.
//!
//! Protocol logic lives in `wirekit-core`; the modules here only move bytes
//! between sockets (tokio) and the core's state machines, and hold the
//! command line.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod config;
pub mod metrics;
pub mod program;
pub mod runtime;
pub mod serve;
pub mod services;
pub mod tls;
pub mod web;
