//! Applications: list and get, from the local package store (`--app-packages`).

use super::error::ApiError;
use super::operations::Operation;
use super::{json_response, list_body, Ctx, ListOptions};
use crate::applications::{self, Application};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use batch_model::{BatchErrorCode, DomainError};
use serde_json::{json, Value};

pub async fn handle(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let dir = state.config().app_packages.as_deref();
    match ctx.op {
        Operation::ListApplications => {
            let opts = ListOptions::from(ctx)?;
            let after = opts.skip_token.clone().unwrap_or_default().to_ascii_lowercase();
            let iter = applications::list(dir).into_iter().filter(|a| a.id.to_ascii_lowercase() > after).map(|a| (a.id.clone(), summary(&a)));
            let (items, next) = opts.page(ctx, iter);
            Ok(list_body(ctx, "applications", items, next))
        }
        Operation::GetApplication => {
            let id = ctx.params.first().cloned().unwrap_or_default();
            let app = applications::get(dir, &id).ok_or_else(|| DomainError::new(BatchErrorCode::ApplicationNotFound))?;
            let mut body = summary(&app);
            body["odata.metadata"] = json!(ctx.metadata("applications/@Element"));
            Ok(json_response(StatusCode::OK, &body))
        }
        other => Err(ApiError::internal(format!("applications::handle got {other:?}"))),
    }
}

/// `{id, displayName, versions}` (the display name defaults to the id: UNCONFIRMED, a live
/// capture of the service showed none).
fn summary(a: &Application) -> Value {
    json!({"id": a.id, "displayName": a.display_name.clone().unwrap_or_else(|| a.id.clone()), "versions": a.versions})
}
