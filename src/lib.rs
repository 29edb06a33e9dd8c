//! A Todo HTTP API, wire-compatible with the minimal-API Todo sample, shipped as a
//! WebAssembly component exporting `wasi:http/incoming-handler@0.2.0`.
//!
//! Everything but the [`component`] entry is host-independent and tested natively:
//! - [`todo`]: the domain values and their rules;
//! - [`api`]: routing, parsing, validation, ETags (an `http::Request` in, a response out);
//! - [`problem`]: RFC 9457 problem details for every error;
//! - [`config`]: the settings, read from Spin variables or the environment;
//! - [`cors`] and [`jwt`]: cross-origin access and bearer-token authentication;
//! - [`ratelimit`]: the limit per client, as GCRA keeps it in the store;
//! - [`store`]: the store trait, with a SQL store (Spin's SQLite, libSQL, PostgreSQL) and
//!   a directory store (`wasmtime serve --dir`).
//!
//! A request's path, one file per step:
//! 1. entry: `src/component/mod.rs` (the `wasi:http` export) reads the settings once, opens
//!    the build's store, and calls [`api::handle`];
//! 2. routing: `src/api/mod.rs` ([`api::handle`]: CORS preflights, tokens) and
//!    `src/api/route.rs` (the route table, `operation(route, method)`);
//! 3. handler: `src/api/handlers.rs` (the target resolved, preconditions, the handler);
//! 4. store: [`store::Store`], implemented by `src/store/sql.rs` and `src/store/dir/`.
//!
//! [`testing`] (feature `testing`) holds what the tests, the fuzz target, the examples and
//! the benchmark share.

#![deny(unsafe_code)]

pub mod api;
pub mod config;
pub mod cors;
pub mod jwt;
mod log;
pub mod problem;
pub mod ratelimit;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod todo;

// The export macro of the `wasi` bindings expands to `unsafe` ABI glue.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component;
