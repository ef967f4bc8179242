//! Placeholder, filled in by the strftime work.
