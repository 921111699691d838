//! Typed client for the Azure Batch data-plane REST API.
//!
//! * [`models`]: the wire types (serde structs named after the REST schema). They carry no
//!   behaviour; the emulator serializes its domain into them at its edge, and the tests and
//!   conformance suite read responses through them, so a shape fixed once is fixed everywhere.
//! * [`auth`]: Shared Key signing exactly as both official Python SDKs compute it; the emulator
//!   verifies with the same function.
//! * [`storage`]: Azure Blob Storage connection strings, SAS and Shared Key, and a minimal blob
//!   client (feature `http`), for the storage data path around Batch tasks.
//! * [`BatchClient`] (feature `http`): requests, paging over `odata.nextLink`, retry honouring
//!   `Retry-After`, and the emulator's control API (`emulator_reset`, `emulator_preempt_node`…).

pub mod auth;
pub mod duration;
pub mod models;
pub mod storage;
pub mod timefmt;

#[cfg(feature = "http")]
mod client;
#[cfg(feature = "http")]
mod emulator;
#[cfg(feature = "http")]
pub use client::{encode_segment, ApiError, BatchClient, Credentials, RawResponse, RetryPolicy};

pub use duration::BatchDuration;

#[cfg(feature = "testcontainers")]
pub mod testcontainers;

/// The emulator's well-known development account (like Azurite's `devstoreaccount1`).
pub const DEV_ACCOUNT_NAME: &str = "devbatchaccount1";
/// Its well-known key (base64). Public: never use it for anything real.
pub const DEV_ACCOUNT_KEY: &str = "YmF0Y2gtZW11bGF0b3ItZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2UtaW4tcHJvZHVjdGlvbg==";

/// The api-version this client sends (the one azure-batch 15.x sends).
pub const API_VERSION: &str = "2025-06-01";
