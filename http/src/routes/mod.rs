//! The handlers, one module per resource.

pub mod dossiers;
pub mod events;
pub mod export;
pub mod ops;
pub mod plans;
pub mod reference;
pub mod slips;
pub mod staff;
pub mod views;
