//! The handlers, one module per resource.

pub mod dossiers;
pub mod events;
pub mod ops;
pub mod staff;
pub mod views;
