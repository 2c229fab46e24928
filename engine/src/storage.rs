//! The only module that talks to sled: trees, atomic batches, durable flush.
