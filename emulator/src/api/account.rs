//! Account-level lists: supported images and pool node counts.

use super::error::ApiError;
use super::operations::Operation;
use super::{list_body, Ctx, ListOptions};
use crate::state::AppState;
use axum::response::Response;
use batch_client::models::BatchSupportedImage;
use batch_model::{Account, IdKey};
use serde_json::{json, Value};
use std::ops::Bound;

pub async fn handle(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    match ctx.op {
        Operation::ListSupportedImages => list_supported_images(ctx),
        Operation::ListPoolNodeCounts => list_pool_node_counts(state, ctx),
        other => Err(ApiError::internal(format!("account::handle got {other:?}"))),
    }
}

/// The Linux images a pool on this emulator may name. Any image reference is accepted at pool
/// creation (nodes run on this machine whatever the image); these are the common ones.
fn supported_images() -> Vec<BatchSupportedImage> {
    let img = |sku: &str, publisher: &str, offer: &str, image_sku: &str, caps: Option<Vec<&str>>| BatchSupportedImage {
        node_agent_sku_id: sku.into(),
        image_reference: json!({"publisher": publisher, "offer": offer, "sku": image_sku, "version": "latest"}),
        os_type: "linux".into(),
        capabilities: caps.map(|c| c.into_iter().map(String::from).collect()),
        // Set only for images whose Batch support ends (Pools_ListSupportedImages example).
        // UNCONFIRMED: the date Batch gave for its Ubuntu 20.04 node agent.
        batch_support_end_of_life: sku.ends_with("ubuntu 20.04").then_some(time::macros::datetime!(2025-04-23 00:00 UTC)),
        verification_type: "verified".into(),
    };
    vec![
        img("batch.node.ubuntu 22.04", "canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", None),
        img("batch.node.ubuntu 20.04", "canonical", "0001-com-ubuntu-server-focal", "20_04-lts", None),
        img("batch.node.ubuntu 22.04", "microsoft-dsvm", "ubuntu-hpc", "2204", None),
        img(
            "batch.node.ubuntu 20.04",
            "microsoft-azure-batch",
            "ubuntu-server-container",
            "20-04-lts",
            Some(vec!["DockerCompatible", "NvidiaTeslaDriverInstalled"]),
        ),
        img("batch.node.el 9", "almalinux", "almalinux-x86_64", "9-gen2", None),
        img("batch.node.debian 12", "debian", "debian-12", "12", None),
    ]
}

fn list_supported_images(ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let start: usize = opts.skip_token.as_deref().and_then(|t| t.parse().ok()).map_or(0, |i: usize| i + 1);
    let iter = supported_images().into_iter().enumerate().skip(start).map(|(i, img)| (i.to_string(), serde_json::to_value(img).unwrap_or(Value::Null)));
    let (items, next) = opts.page(ctx, iter);
    Ok(list_body(ctx, "supportedimages", items, next))
}

fn list_pool_node_counts(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let (items, next) = state.read(|a| {
        let start = opts.skip_token.as_deref().map_or(Bound::Unbounded, |t| Bound::Excluded(IdKey::of(t)));
        let iter = a.pools.range((start, Bound::Unbounded)).map(|(k, p)| (k.to_string(), serde_json::to_value(Account::node_counts(p)).unwrap_or(Value::Null)));
        opts.page(ctx, iter)
    });
    Ok(list_body(ctx, "poolnodecounts", items, next))
}
