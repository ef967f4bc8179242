//! Incremental decoders.
