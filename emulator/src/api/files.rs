//! Task files and node files: list (optionally recursive), download (with `ocp-range`),
//! properties (HEAD), delete. File paths arrive percent-encoded in one segment (`wd%2Fout.txt`)
//! and may use `\`; no path may leave the directory it is relative to. Every access goes
//! through a directory handle opened beneath the node root (cap-std: `openat2` with
//! `RESOLVE_BENEATH`), so a symlink a task swaps in at any moment cannot lead out of it, and
//! an absolute symlink is not followed at all (UNCONFIRMED: what the service does with one).

use super::error::ApiError;
use super::operations::Operation;
use super::{encode_segment, list_body, Ctx, ListOptions};
use crate::layout::NodeLayout;
use crate::state::AppState;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use batch_client::models::{BatchNodeFile, FileProperties};
use batch_client::timefmt;
use batch_model::{BatchErrorCode as Code, DomainError};
use cap_std::fs::Dir;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub async fn handle(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let scope = resolve_scope(state, ctx)?;
    match ctx.op {
        Operation::ListTaskFiles | Operation::ListNodeFiles => list_files(ctx, &scope).await,
        Operation::DownloadTaskFile | Operation::DownloadNodeFile => get_file(ctx, &scope, false).await,
        Operation::GetTaskFileProperties | Operation::GetNodeFileProperties => get_file(ctx, &scope, true).await,
        Operation::DeleteTaskFile | Operation::DeleteNodeFile => delete_file(ctx, &scope).await,
        other => Err(ApiError::internal(format!("files::handle got {other:?}"))),
    }
}

/// The directory the request's paths are relative to (`sub` beneath the node root: the task
/// directory, or nothing for node files), and the URL prefix of its files.
struct Scope {
    node_root: PathBuf,
    sub: PathBuf,
    url_prefix: String,
}

impl Scope {
    /// Opens the scope's directory beneath the node root.
    fn open(&self) -> std::io::Result<Dir> {
        let anchor = Dir::open_ambient_dir(&self.node_root, cap_std::ambient_authority())?;
        if self.sub.as_os_str().is_empty() {
            Ok(anchor)
        } else {
            anchor.open_dir(&self.sub)
        }
    }
}

/// What a listing or a read reports of a file.
struct Meta {
    is_dir: bool,
    len: u64,
    mode: u32,
    created: OffsetDateTime,
    modified: OffsetDateTime,
}

impl From<&cap_std::fs::Metadata> for Meta {
    fn from(m: &cap_std::fs::Metadata) -> Self {
        use cap_std::fs::MetadataExt as _;
        let modified = m.modified().map(|t| OffsetDateTime::from(t.into_std())).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let created = m.created().map(|t| OffsetDateTime::from(t.into_std())).unwrap_or(modified);
        Meta { is_dir: m.is_dir(), len: m.len(), mode: m.mode(), created, modified }
    }
}

/// Runs file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(e.to_string()))?
}

fn resolve_scope(state: &AppState, ctx: &Ctx) -> Result<Scope, ApiError> {
    let layout: &NodeLayout = state.layout();
    let task_op = matches!(ctx.op, Operation::ListTaskFiles | Operation::DownloadTaskFile | Operation::GetTaskFileProperties | Operation::DeleteTaskFile);
    state.read(|a| {
        if task_op {
            let job = a.job(&ctx.params[0])?;
            let task = a.task(&ctx.params[0], &ctx.params[1])?;
            let Some(p) = &task.placement else {
                return Err(DomainError::new(Code::TaskFilesUnavailable).into());
            };
            if task.files_cleaned {
                return Err(DomainError::new(Code::TaskFilesCleanedup).into());
            }
            Ok(Scope {
                node_root: layout.root(&p.node_id),
                sub: PathBuf::from(NodeLayout::task_relative(&job.spec.id, &task.spec.id)),
                url_prefix: ctx.url(&format!("/jobs/{}/tasks/{}/files/", encode_segment(&job.spec.id), encode_segment(&task.spec.id))),
            })
        } else {
            let pool = a.pool(&ctx.params[0])?;
            let node = pool.nodes.get(&ctx.params[1]).ok_or(DomainError::new(Code::NodeNotFound))?;
            Ok(Scope {
                node_root: layout.root(&node.id),
                sub: PathBuf::new(),
                url_prefix: ctx.url(&format!("/pools/{}/nodes/{}/files/", encode_segment(&pool.spec.id), encode_segment(&node.id))),
            })
        }
    })
}

fn not_found() -> ApiError {
    DomainError::new(Code::FileNotFound).into()
}

/// A client path as a relative path, refusing `..` and empty paths (absolute paths become
/// relative: the leading separator is dropped); the opening beneath the scope refuses the rest.
fn relative(file_path: &str) -> Result<(PathBuf, String), ApiError> {
    let mut rel = PathBuf::new();
    let mut parts = Vec::new();
    for comp in file_path.split(['/', '\\']) {
        match comp {
            "" | "." => {}
            ".." => return Err(not_found()),
            c if c.contains('\0') => return Err(not_found()),
            c => {
                rel.push(c);
                parts.push(c);
            }
        }
    }
    if parts.is_empty() {
        return Err(not_found());
    }
    Ok((rel, parts.join("/")))
}

fn content_type(name: &str) -> &'static str {
    match Path::new(name).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("txt" | "log" | "out" | "err") => "text/plain",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("html" | "htm") => "text/html",
        Some("csv") => "text/csv",
        _ => "application/octet-stream",
    }
}

fn entry(scope: &Scope, name: &str, meta: &Meta) -> BatchNodeFile {
    let url = format!("{}{}", scope.url_prefix, encode_segment(name));
    if meta.is_dir {
        return BatchNodeFile { name: name.to_string(), url: Some(url), is_directory: true, properties: None };
    }
    BatchNodeFile {
        name: name.to_string(),
        url: Some(url),
        is_directory: false,
        properties: Some(FileProperties {
            creation_time: Some(meta.created),
            last_modified: meta.modified,
            content_length: meta.len.to_string(),
            content_type: Some(content_type(name).to_string()),
            file_mode: Some(format!("0{:o}", meta.mode)),
        }),
    }
}

/// Lists a directory tree in name order (symlinks are listed, never followed).
fn walk(dir: &Dir, prefix: &str, recursive: bool, out: &mut Vec<(String, Meta)>) {
    let Ok(rd) = dir.entries() else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        let Ok(meta) = e.metadata() else {
            continue;
        };
        let is_dir = meta.is_dir();
        out.push((name.clone(), Meta::from(&meta)));
        if recursive && is_dir {
            if let Ok(sub) = e.open_dir() {
                walk(&sub, &format!("{name}/"), true, out);
            }
        }
    }
}

async fn list_files(ctx: &Ctx, scope: &Scope) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let recursive = ctx.q_bool("recursive")?;
    let dir = scope.open().map_err(|_| not_found())?;
    let mut all = blocking(move || {
        let mut out = Vec::new();
        walk(&dir, "", recursive, &mut out);
        Ok(out)
    })
    .await?;
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let token = opts.skip_token.clone();
    let iter = all
        .iter()
        .filter(|(name, _)| token.as_deref().is_none_or(|t| name.as_str() > t))
        .map(|(name, meta)| (name.clone(), serde_json::to_value(entry(scope, name, meta)).unwrap_or_default()));
    let (items, next) = opts.page(ctx, iter);
    Ok(list_body(ctx, "files", items, next))
}

fn header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Parses `bytes=a-b` / `bytes=a-` / `bytes=-n` against a length.
fn parse_range(spec: &str, len: u64) -> Result<(u64, u64), ApiError> {
    let bad = || ApiError::from(DomainError::new(Code::InvalidRange));
    let r = spec.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = r.split_once('-').ok_or_else(bad)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| bad())?;
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (a, "") => (a.parse().map_err(|_| bad())?, len.saturating_sub(1)),
        (a, b) => (a.parse().map_err(|_| bad())?, b.parse::<u64>().map_err(|_| bad())?.min(len.saturating_sub(1))),
    };
    if start >= len || start > end {
        return Err(bad());
    }
    Ok((start, end))
}

async fn get_file(ctx: &Ctx, scope: &Scope, head: bool) -> Result<Response, ApiError> {
    let (rel, name) = relative(&ctx.params[2])?;
    let dir = scope.open().map_err(|_| not_found())?;
    // Metadata and contents both resolve beneath the scope: whatever is swapped in between,
    // nothing outside is read.
    let read_contents = !head;
    let (meta, data) = blocking(move || {
        let meta = Meta::from(&dir.metadata(&rel).map_err(|_| not_found())?);
        let data = if read_contents && !meta.is_dir { Some(dir.read(&rel).map_err(|_| not_found())?) } else { None };
        Ok((meta, data))
    })
    .await?;
    if meta.is_dir && !head {
        // UNCONFIRMED: downloading a directory is answered as a missing file.
        return Err(not_found());
    }
    let (created, modified) = (meta.created, meta.modified);
    let lm = modified.replace_nanosecond(0).unwrap_or(modified);
    if let Some(v) = ctx.header("if-unmodified-since") {
        if timefmt::parse_http(v).is_some_and(|t| lm > t) {
            return Err(Code::ConditionNotMet.into());
        }
    }
    let not_modified = ctx.header("if-modified-since").and_then(timefmt::parse_http).is_some_and(|t| lm <= t);
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else if head || meta.is_dir {
        let mut r = StatusCode::OK.into_response();
        header(&mut r, "content-length", &if meta.is_dir { 0 } else { meta.len }.to_string());
        r
    } else {
        let data = data.unwrap_or_default();
        let body = match ctx.header("ocp-range") {
            Some(range) => {
                let (start, end) = parse_range(range, data.len() as u64)?;
                data[start as usize..=end as usize].to_vec()
            }
            None => data,
        };
        (StatusCode::OK, body).into_response()
    };
    header(&mut resp, "content-type", if meta.is_dir { "application/octet-stream" } else { content_type(&name) });
    header(&mut resp, "last-modified", &timefmt::format_http(modified));
    header(&mut resp, "ocp-creation-time", &timefmt::format_http(created));
    header(&mut resp, "ocp-batch-file-isdirectory", if meta.is_dir { "True" } else { "False" });
    let url = format!("{}{}", scope.url_prefix, encode_segment(&name));
    header(&mut resp, "ocp-batch-file-url", &encode_segment(&url));
    header(&mut resp, "ocp-batch-file-mode", &format!("0{:o}", meta.mode));
    Ok(resp)
}

async fn delete_file(ctx: &Ctx, scope: &Scope) -> Result<Response, ApiError> {
    let (rel, _) = relative(&ctx.params[2])?;
    let recursive = ctx.q_bool("recursive")?;
    let dir = scope.open().map_err(|_| not_found())?;
    let shown = rel.display().to_string();
    let result = blocking(move || {
        let meta = dir.symlink_metadata(&rel).map_err(|_| not_found())?;
        Ok(if meta.is_dir() {
            if recursive {
                dir.remove_dir_all(&rel)
            } else {
                dir.remove_dir(&rel).map_err(|e| {
                    // UNCONFIRMED: a non-empty directory without `recursive=true`.
                    std::io::Error::new(std::io::ErrorKind::DirectoryNotEmpty, e)
                })
            }
        } else {
            dir.remove_file(&rel)
        })
    })
    .await?;
    match result {
        Ok(()) => Ok(StatusCode::OK.into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found()),
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
            Err(DomainError::new(Code::OperationInvalidForCurrentState).with_message("The directory is not empty; delete it with recursive=true.").into())
        }
        Err(e) => Err(ApiError::internal(format!("delete {shown}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any client path, however long or strange: a relative path without `..`, or 404.
        #[test]
        fn client_paths_become_relative_paths_or_not_found(segments in proptest::collection::vec("(\\.\\.|\\.|[^/\\\\]{0,40})", 0..300), sep in proptest::sample::select(vec!["/", "\\"])) {
            let path = segments.join(sep);
            if let Ok((rel, name)) = relative(&path) {
                proptest::prop_assert!(rel.is_relative());
                proptest::prop_assert!(!rel.components().any(|c| matches!(c, std::path::Component::ParentDir)));
                proptest::prop_assert!(!name.is_empty());
            }
        }
    }
}
