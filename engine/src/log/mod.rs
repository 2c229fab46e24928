//! The append-only event log: envelopes, the group-commit writer, reads, subscriptions, verification.
