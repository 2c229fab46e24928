//! motcua-replay library.
