//! Application packages on the node: before a task runs, each package its pool and the task
//! reference is resolved against the store (`--app-packages`), extracted once per node and
//! version under the node's `applications/` directory, and named to the task by
//! `AZ_BATCH_APP_PACKAGE_*` variables. A reference the store cannot satisfy fails the task
//! before its command runs (documented for a task naming no version of an application without
//! a default: "the Task fails with a pre-processing error").

use crate::applications::{resolve, variable_names};
use batch_client::models::{FailureInfo, NameValuePair};
use batch_model::app_packages::PackageRef;
use std::path::{Path, PathBuf};

/// UNCONFIRMED: the category and message (node-and-container-semantics.md §6 lists the code,
/// `ApplicationPackageError`, only).
fn package_failure(reference: &PackageRef, message: String) -> FailureInfo {
    let pair = |n: &str, v: String| NameValuePair { name: Some(n.into()), value: Some(v) };
    FailureInfo {
        category: "usererror".into(),
        code: Some("ApplicationPackageError".into()),
        message: Some("One of the specified application packages could not be deployed to the node.".into()),
        details: vec![pair("ApplicationId", reference.application_id.clone()), pair("Message", message)],
    }
}

/// Where a package version lives on a node. UNCONFIRMED: the directory's name (the service's
/// is an implementation detail; the variables are the contract).
pub fn package_dir(node_root: &Path, application_id: &str, version: &str) -> PathBuf {
    node_root.join("applications").join(format!("{application_id}_{version}"))
}

/// Extracts `zip` into `target` whole or not at all (a temporary directory renamed into place;
/// when two tasks race, the second finds it there).
async fn extract(zip: PathBuf, target: PathBuf) -> Result<(), String> {
    if target.is_dir() {
        return Ok(());
    }
    let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
    let tmp = parent.join(format!(".extracting-{}", uuid::Uuid::new_v4().simple()));
    let work = tmp.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<(), String> {
        std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
        let file = std::fs::File::open(&zip).map_err(|e| format!("{}: {e}", zip.display()))?;
        // `extract` keeps every entry inside the directory (names leading out are refused).
        zip::ZipArchive::new(file).and_then(|mut a| a.extract(&work)).map_err(|e| format!("{}: {e}", zip.display()))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    if let Err(e) = result {
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        return Err(e);
    }
    if tokio::fs::rename(&tmp, &target).await.is_err() {
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        if !target.is_dir() {
            return Err(format!("cannot put the package in place at {}", target.display()));
        }
    }
    Ok(())
}

/// Installs the packages; the variables naming them.
pub async fn install(store: Option<&Path>, refs: &[PackageRef], node_root: &Path) -> Result<Vec<(String, String)>, FailureInfo> {
    let mut env = Vec::new();
    for r in refs {
        let resolved = resolve(store, &r.application_id, r.version.as_deref()).map_err(|m| package_failure(r, m))?;
        let dir = package_dir(node_root, &resolved.application_id, &resolved.version);
        extract(resolved.zip.clone(), dir.clone()).await.map_err(|m| package_failure(r, m))?;
        for name in variable_names(&resolved.application_id, &resolved.version, r.version.is_none()) {
            env.retain(|(n, _)| *n != name);
            env.push((name, dir.to_string_lossy().into_owned()));
        }
    }
    Ok(env)
}
