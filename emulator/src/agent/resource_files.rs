//! Resource files on the node: before a task's command line runs, each `resourceFiles` entry
//! is downloaded into its working directory (`startup/wd` for a start task): an `httpUrl` to
//! its `filePath`; a container (`storageContainerUrl`, or `autoStorageContainerName` through a
//! SAS signed with the linked storage account's key) listed with its `blobPrefix` and every
//! blob downloaded under `filePath`, keeping its path. Downloads stream to disk, a few at a
//! time. The first failure fails the task before its command runs, with the failureInfo the
//! service documents (node-and-container-semantics.md §6); the task is not retried for it.

use crate::blob::{blob_url, BlobClient, BlobError};
use batch_client::models::{FailureInfo, NameValuePair};
use batch_client::storage::StorageAccount;
use batch_model::resource_files::{check_file_path, ResourceFile, ResourceSource};
use std::path::Path;
use time::OffsetDateTime;

/// Downloads running at once for one task.
const PARALLEL: usize = 8;

fn failure(category: &str, code: &str, message: &str, details: Vec<(&str, String)>) -> FailureInfo {
    FailureInfo {
        category: category.into(),
        code: Some(code.into()),
        message: Some(message.into()),
        details: details.into_iter().map(|(n, v)| NameValuePair { name: Some(n.into()), value: Some(v) }).collect(),
    }
}

/// A failed download, as the service reports it (codes and messages from
/// node-and-container-semantics.md §6; UNCONFIRMED: the details' names besides `FilePath`).
fn download_failure(e: BlobError, file_path: &str) -> FailureInfo {
    let details = |m: String| vec![("FilePath", file_path.to_string()), ("Message", m)];
    match e {
        BlobError::Status { status: 404, code, message } => {
            failure("usererror", "BlobNotFound", "One of the specified Azure Blob(s) is not found.", details(format!("404 {code} {message}").trim().into()))
        }
        BlobError::Status { status: 401 | 403, code, message } => failure(
            "usererror",
            "BlobAccessDenied",
            "Access for one of the specified Azure Blob(s) is denied.",
            details(format!("403 {code} {message}").trim().into()),
        ),
        BlobError::TimedOut(m) => {
            failure("servererror", "BlobDownloadTimedOut", "Timeout encountered while downloading one of the specified Azure Blob(s).", details(m))
        }
        BlobError::File(e, true) => failure("servererror", "ResourceFileCreateFailed", "Failure encountered creating resource file", details(e.to_string())),
        BlobError::File(e, false) => failure("servererror", "ResourceFileWriteFailed", "Failure encountered writing resource file", details(e.to_string())),
        other => failure(
            "servererror",
            "BlobDownloadMiscError",
            "Miscellaneous error encountered while downloading one of the specified Azure Blob(s).",
            details(other.to_string()),
        ),
    }
}

/// The failure of a download the control API made fail (`crate::faults::FailNext`).
pub fn injected_failure(status: u16, message: String) -> FailureInfo {
    download_failure(BlobError::Status { status, code: "InjectedFault".into(), message }, "")
}

/// A container that could not be listed. UNCONFIRMED: the codes are documented (doc S14), their
/// categories and messages are not; these follow the blob codes' pattern.
fn list_failure(e: BlobError, container: &str) -> FailureInfo {
    let details = |m: String| vec![("ContainerUrl", container.to_string()), ("Message", m)];
    match e {
        BlobError::Status { status: 404, code, message } => {
            failure("usererror", "ResourceContainerNotFound", "The specified Azure storage container was not found.", details(format!("404 {code} {message}")))
        }
        BlobError::Status { status: 401 | 403, code, message } => failure(
            "usererror",
            "ResourceContainerAccessDenied",
            "Access for the specified Azure storage container is denied; the URL needs read and list permissions.",
            details(format!("403 {code} {message}")),
        ),
        BlobError::TimedOut(m) => {
            failure("servererror", "ResourceContainerListTimedOut", "Timeout encountered while listing the specified Azure storage container.", details(m))
        }
        other => failure(
            "servererror",
            "ResourceContainerListMiscError",
            "Miscellaneous error encountered while listing the specified Azure storage container.",
            details(other.to_string()),
        ),
    }
}

/// A URL without its query (the SAS is a secret: never shown in a failureInfo).
fn redacted(url: &str) -> String {
    url.split('?').next().unwrap_or_default().to_string()
}

/// One file to fetch: from where, to which path under the working directory, with which mode.
struct Fetch {
    url: url::Url,
    relative: String,
    mode: u32,
}

/// The container URL a container source lists (with a SAS for the linked storage).
fn container_url(source: &ResourceSource, linked: &str, now: OffsetDateTime) -> Result<(url::Url, String), FailureInfo> {
    let misc = |m: String, shown: &str| list_failure(BlobError::Transport(m), shown);
    match source {
        ResourceSource::Container { url, .. } => url::Url::parse(url).map(|u| (u, redacted(url))).map_err(|e| misc(e.to_string(), &redacted(url))),
        ResourceSource::AutoStorage { container, .. } => {
            let storage = StorageAccount::from_connection_string(linked).map_err(|e| misc(format!("the linked storage account: {e}"), container))?;
            let url =
                url::Url::parse(&storage.container_sas_url(container, "rl", now + time::Duration::hours(2))).map_err(|e| misc(e.to_string(), container))?;
            Ok((url, storage.container_url(container)))
        }
        ResourceSource::Http { .. } => Err(misc("not a container".into(), "")),
    }
}

/// Every file the entries stand for (containers listed).
async fn plan(client: &BlobClient, files: &[ResourceFile], linked: &str, now: OffsetDateTime) -> Result<Vec<Fetch>, FailureInfo> {
    let mut fetches = Vec::new();
    for f in files {
        match &f.source {
            ResourceSource::Http { url } => {
                let relative = f.file_path.clone().unwrap_or_default();
                let url = url::Url::parse(url).map_err(|e| download_failure(BlobError::Transport(e.to_string()), &relative))?;
                fetches.push(Fetch { url, relative, mode: f.file_mode });
            }
            ResourceSource::Container { prefix, .. } | ResourceSource::AutoStorage { prefix, .. } => {
                let (container, shown) = container_url(&f.source, linked, now)?;
                let names = client.list(&container, prefix.as_deref()).await.map_err(|e| list_failure(e, &shown))?;
                for name in names {
                    let relative = match &f.file_path {
                        Some(dir) => format!("{}/{name}", dir.trim_end_matches('/')),
                        None => name.clone(),
                    };
                    // A blob name is a path too: it cannot lead out of the working directory.
                    if check_file_path(&relative).is_err() || name.ends_with('/') {
                        return Err(download_failure(
                            BlobError::File(std::io::Error::other(format!("blob {name:?} has no place under the working directory")), true),
                            &relative,
                        ));
                    }
                    fetches.push(Fetch { url: blob_url(&container, &name), relative, mode: f.file_mode });
                }
            }
        }
    }
    Ok(fetches)
}

/// How a download is going: files done of all, and bytes so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    pub files_done: usize,
    pub files: usize,
    pub bytes: u64,
}

/// How often `progress` hears of a long download.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Downloads a launch's resource files into `wd`, each file in a task of its own (so the work
/// spreads over the runtime's threads), [`PARALLEL`] at a time. `progress` hears how it goes
/// once the files are known, every [`PROGRESS_EVERY`] after, and at the end. Dropping the
/// future (a kill) aborts the downloads in flight.
pub async fn download(
    client: &BlobClient,
    files: &[ResourceFile],
    wd: &Path,
    linked: &str,
    now: OffsetDateTime,
    progress: impl Fn(DownloadProgress),
) -> Result<(), FailureInfo> {
    let planned = plan(client, files, linked, now).await?;
    let mut p = DownloadProgress { files_done: 0, files: planned.len(), bytes: 0 };
    progress(p);
    let mut last = std::time::Instant::now();
    let mut todo = planned.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < PARALLEL {
            let Some(f) = todo.next() else { break };
            let (client, dest) = (client.clone(), wd.join(&f.relative));
            running.spawn(async move { client.download_to(&f.url, &dest, f.mode).await.map_err(|e| download_failure(e, &f.relative)) });
        }
        match running.join_next().await {
            None => {
                progress(p);
                return Ok(());
            }
            Some(done) => {
                p.bytes += done.map_err(|e| download_failure(BlobError::Transport(e.to_string()), ""))??;
                p.files_done += 1;
                if last.elapsed() >= PROGRESS_EVERY {
                    last = std::time::Instant::now();
                    progress(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_carry_the_documented_codes_and_no_sas() {
        let f = download_failure(BlobError::Status { status: 404, code: "BlobNotFound".into(), message: "gone".into() }, "in/x");
        assert_eq!((f.category.as_str(), f.code.as_deref()), ("usererror", Some("BlobNotFound")));
        assert_eq!(f.details[0].value.as_deref(), Some("in/x"));
        let f = list_failure(
            BlobError::Status { status: 403, code: "AuthorizationPermissionMismatch".into(), message: String::new() },
            &redacted("http://h/c?sig=secret"),
        );
        assert_eq!(f.code.as_deref(), Some("ResourceContainerAccessDenied"));
        assert!(!format!("{f:?}").contains("secret"));
    }
}
