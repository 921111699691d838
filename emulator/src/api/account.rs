//! Account-level lists: supported images, pool node counts and pool usage metrics.

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
        Operation::ListPoolUsageMetrics => list_pool_usage_metrics(state, ctx),
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

/// List Pool Usage Metrics: core hours per pool per 30-minute interval, from how long each of
/// its nodes existed (`batch_model::stats`). Without `starttime`/`endtime`, the last complete
/// interval. UNCONFIRMED: the service makes intervals available some hours late and asks
/// `starttime` to be 2.5 hours back; here an interval is available once it has ended.
fn list_pool_usage_metrics(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    use batch_model::stats::{core_hours, interval_start, USAGE_INTERVAL};
    let opts = ListOptions::from(ctx)?;
    let now = ctx.now;
    let time_param = |name: &str| -> Result<Option<time::OffsetDateTime>, ApiError> {
        match ctx.q(name) {
            None => Ok(None),
            Some(v) => batch_client::timefmt::parse_body(v).map(Some).ok_or_else(|| super::invalid_query(name, v).into()),
        }
    };
    let last_end = interval_start(now);
    let end = time_param("endtime")?.unwrap_or(last_end).min(last_end);
    let start = interval_start(time_param("starttime")?.unwrap_or(last_end - USAGE_INTERVAL));
    // At most 180 days of intervals in one answer.
    let start = start.max(end - time::Duration::days(180));
    let entries = state.read(|a| {
        let mut out = Vec::new();
        let mut from = start;
        while from < end {
            let to = from + USAGE_INTERVAL;
            for (pool_id, vm_size, hours) in core_hours(&a.node_spans, from, to, now) {
                out.push(json!({
                    "poolId": pool_id,
                    "startTime": batch_client::timefmt::format_body(from),
                    "endTime": batch_client::timefmt::format_body(to),
                    "vmSize": vm_size,
                    "totalCoreHours": hours,
                }));
            }
            from = to;
        }
        out
    });
    let skip: usize = opts.skip_token.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
    let items = entries.into_iter().enumerate().skip(skip).map(|(i, v)| (format!("{}", i + 1), v));
    let (page, next) = opts.page(ctx, items);
    Ok(list_body(ctx, "poolusagemetrics", page, next))
}
