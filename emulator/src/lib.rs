//! batch-emulator: a local emulator of the Azure Batch data-plane REST API.
//!
//! * [`api`]: the thin REST edge (routing from the operation catalogue, auth, OData, errors).
//! * `batch_model` (crate `emulator/model`): the Batch domain, free of HTTP, Docker and disk.
//! * [`agent`]: the node agent that carries out the domain's effects (directories, processes).
//! * [`applications`]: the local application package store (`--app-packages`).
//! * [`blob`]: the Azure Blob client of the storage data path (resource and output files).
//! * [`layout`]: where node files live on this machine (read by the agent and the file API).
//! * [`node_logs`]: the node agent's own logs, which `upload_node_logs` sends to storage.
//! * [`timers`]: the deadlines the domain asked for ([`batch_model::Effect::At`]).
//! * [`state`], [`config`], [`clock`]: wiring.

pub mod agent;
pub mod api;
pub mod applications;
pub mod blob;
pub mod clock;
pub mod config;
pub mod faults;
pub mod layout;
pub mod node_logs;
pub mod recent;
pub mod server;
pub mod ssh;
pub mod state;
pub mod store;
pub mod task_token;
pub mod timers;
pub mod tls;
