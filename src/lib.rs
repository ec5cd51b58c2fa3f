//! tocsin: a self-hosted reputation and crisis early-warning monitor.
//!
//! The pipeline runs in one direction: feeds → [`ingest`] → [`analyze`] → [`incident`] →
//! [`notify`], with [`store`] beside it and [`api`] on top. [`daemon`] wires the stages.

pub mod analyze;
pub mod api;
pub mod bundled;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod digest;
pub mod drill;
pub mod figures;
pub mod incident;
pub mod ingest;
pub mod lang;
pub mod notify;
pub mod pipeline;
pub mod replay;
pub mod store;
