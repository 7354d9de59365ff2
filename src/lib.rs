//! strait: an edge gateway for LLM provider APIs, on Pingora.
//!
//! Modules read in the order a request travels: [`route`] and [`auth`]
//! admit it, [`admission`] picks provider and key, [`gateway`] forwards it,
//! [`observe`] records it.

pub mod account;
pub mod admin;
pub mod admission;
pub mod auth;
pub mod binding;
pub mod body;
pub mod config;
pub mod credential;
pub mod ctx;
pub mod errors;
pub mod failover;
pub mod forward;
pub mod gateway;
pub mod housekeeping;
pub mod keys;
pub mod lifecycle;
pub mod notify;
pub mod observe;
pub mod policy;
pub mod providers;
pub mod relay;
pub mod reload;
pub mod resolver;
pub mod route;
pub mod server;
pub mod shutdown;
pub mod snapshot;
pub mod tokens;
pub mod upstream;
