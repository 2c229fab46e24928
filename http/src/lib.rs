//! motcua HTTP server.
