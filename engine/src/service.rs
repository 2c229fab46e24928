//! Command service: load a stream, decide, append with an exact expected version, retry on conflict.
