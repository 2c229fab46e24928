//! Slips 01-06 (placeholder).
