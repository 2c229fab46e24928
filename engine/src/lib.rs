//! motcua engine: the append-only event log on sled, the one-stop desk domain as pure
//! decisions, and the projections folded from the log.
