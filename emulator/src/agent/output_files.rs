//! Output files on the node: after a task's command exits, each `outputFiles` entry whose
//! upload condition holds is globbed and uploaded, before the task is reported `completed`
//! (batch-task-output-files.md):
//!
//! - `filePattern` is relative to the working directory or absolute; `$VAR`/`${VAR}` are
//!   expanded from the task's environment first. `*`, `?`, `[abc]`, `[!abc]` and `**` (any
//!   directories) match; a name starting with `.` only when the pattern spells the dot.
//! - Without wildcards the pattern names one file, and `path` is its blob name (default: the
//!   file's name). With wildcards, `path` is the virtual directory each match goes under,
//!   named by its path below the pattern's fixed leading directories (`../std*.txt` with path
//!   `t1` gives `t1/stdout.txt` and `t1/stderr.txt`, the documented example; UNCONFIRMED that
//!   fixed directories inside the working directory drop out the same way: `a/*.txt` gives
//!   `<path>/b.txt` for `a/b.txt`).
//! - A pattern may match nothing; that is no error.
//! - Every attempted upload writes `fileuploadout.txt` (what was uploaded) and
//!   `fileuploaderr.txt` (what failed) in the task directory.
//!
//! The first failed upload gives the failureInfo the service documents; `FileUploadContainerNotFound`
//! is the documented one, the others' categories and messages are UNCONFIRMED.

use crate::blob::{blob_url, BlobClient, BlobError};
use batch_client::models::{FailureInfo, NameValuePair};
use batch_model::output_files::{has_wildcards, OutputFile};
use futures::TryStreamExt;
use std::path::{Component, Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Uploads running at once for one task.
const PARALLEL: usize = 8;

fn failure(category: &str, code: &str, message: &str, file: &str, detail: String) -> FailureInfo {
    let pair = |n: &str, v: String| NameValuePair { name: Some(n.into()), value: Some(v) };
    FailureInfo {
        category: category.into(),
        code: Some(code.into()),
        message: Some(message.into()),
        details: vec![pair("FilePath", file.into()), pair("Message", detail)],
    }
}

fn upload_failure(e: BlobError, file: &str) -> FailureInfo {
    match e {
        BlobError::Status { status: 404, code, message } => failure(
            "usererror",
            "FileUploadContainerNotFound",
            "One of the specified Azure container(s) was not found while attempting to upload an output file",
            file,
            format!("404 {code} {message}"),
        ),
        BlobError::Status { status: 401 | 403, code, message } => failure(
            "usererror",
            "FileUploadAccessDenied",
            "Access for one of the specified Azure container(s) is denied while attempting to upload an output file",
            file,
            format!("403 {code} {message}"),
        ),
        BlobError::Status { status: 409, code, message } => {
            failure("usererror", "FileUploadConflict", "A conflict occurred while attempting to upload an output file", file, format!("409 {code} {message}"))
        }
        BlobError::TimedOut(m) => failure("servererror", "FileUploadTimedOut", "Timeout encountered while attempting to upload an output file", file, m),
        other => {
            failure("servererror", "FileUploadMiscError", "Miscellaneous error encountered while attempting to upload an output file", file, other.to_string())
        }
    }
}

/// `$VAR` and `${VAR}` replaced from `env` (an unknown variable is empty, as in a shell).
pub fn expand(pattern: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
            out.push_str(&lookup(&name));
        } else {
            let mut name = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_ascii_alphanumeric() || **c == '_') {
                name.push(c);
                chars.next();
            }
            if name.is_empty() {
                out.push('$');
            } else {
                out.push_str(&lookup(&name));
            }
        }
    }
    out
}

/// `path` with `.` and `..` resolved by name (never touching the disk).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// One file to upload and its blob name.
struct Upload {
    file: PathBuf,
    blob: String,
    container: url::Url,
    headers: Vec<(String, String)>,
}

/// The files an entry matches, with their blob names.
fn matches(f: &OutputFile, wd: &Path, env: &[(String, String)]) -> Result<Vec<(PathBuf, String)>, String> {
    let expanded = expand(&f.file_pattern, env);
    let full = normalize(&wd.join(&expanded));
    if !has_wildcards(&expanded) {
        if !full.is_file() {
            return Ok(Vec::new());
        }
        let name = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return Ok(vec![(full, f.path.clone().unwrap_or(name))]);
    }
    // The fixed leading directories, then the part with wildcards.
    let parts: Vec<String> = full.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let fixed = parts.iter().position(|p| has_wildcards(p)).unwrap_or(parts.len());
    let base: PathBuf = parts[..fixed].iter().collect();
    let rest = parts[fixed..].join("/");
    // The glob crate's own walk skips hidden files even when the pattern spells the dot, so
    // the walk is here and the crate only matches.
    let pattern = glob::Pattern::new(&rest).map_err(|e| format!("filePattern {:?}: {e}", f.file_pattern))?;
    let options = glob::MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: true };
    let depth = if rest.contains("**") { usize::MAX } else { parts.len() - fixed };
    let mut found = Vec::new();
    for (path, relative) in walk(&base, depth) {
        if !pattern.matches_with(&relative, options) {
            continue;
        }
        let blob = match &f.path {
            Some(dir) => format!("{}/{relative}", dir.trim_end_matches('/')),
            None => relative,
        };
        found.push((path, blob));
    }
    Ok(found)
}

/// Files considered by one pattern at most (a bound on the work a pattern can ask for).
const MAX_FILES: usize = 100_000;

/// The files below `base`, at most `depth` levels down, with their paths relative to it.
/// Symbolic links to files count; links to directories are not followed.
fn walk(base: &Path, depth: usize) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![(base.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, level)) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            if out.len() >= MAX_FILES {
                return out;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                if level + 1 < depth {
                    todo.push((e.path(), relative, level + 1));
                }
            } else if e.path().is_file() {
                out.push((e.path(), relative));
            }
        }
    }
    out
}

/// Uploads the entries whose condition holds for an attempt that `succeeded` (exit code 0).
/// `task_dir` holds the upload logs; `env` is the task's environment (host paths).
pub async fn upload(
    client: &BlobClient,
    files: &[OutputFile],
    task_dir: &Path,
    wd: &Path,
    env: &[(String, String)],
    succeeded: bool,
) -> Result<(), FailureInfo> {
    let due: Vec<&OutputFile> = files.iter().filter(|f| f.condition.applies(succeeded)).collect();
    if due.is_empty() {
        return Ok(());
    }
    let mut out = String::new();
    let mut uploads = Vec::new();
    let mut planning_error = None;
    for f in due {
        match (matches(f, wd, env), url::Url::parse(&f.container_url)) {
            (Ok(found), Ok(container)) => {
                if found.is_empty() {
                    out.push_str(&format!("{}: no file matched\n", f.file_pattern));
                }
                uploads.extend(found.into_iter().map(|(file, blob)| Upload { file, blob, container: container.clone(), headers: f.upload_headers.clone() }));
            }
            (Err(e), _) => planning_error = Some(upload_failure(BlobError::Transport(e), &f.file_pattern)),
            (_, Err(e)) => planning_error = Some(upload_failure(BlobError::Transport(format!("containerUrl: {e}")), &f.file_pattern)),
        }
    }
    let log = tokio::sync::Mutex::new((out, String::new()));
    let result = match planning_error {
        Some(f) => Err(f),
        None => {
            futures::stream::iter(uploads.into_iter().map(Ok))
                .try_for_each_concurrent(PARALLEL, |u| {
                    let log = &log;
                    async move {
                        let url = blob_url(&u.container, &u.blob);
                        let shown = u.file.to_string_lossy().into_owned();
                        match client.upload_from(&url, &u.file, &u.headers).await {
                            Ok(()) => {
                                log.lock().await.0.push_str(&format!("uploaded {shown} to {}\n", u.blob));
                                Ok(())
                            }
                            Err(e) => {
                                log.lock().await.1.push_str(&format!("cannot upload {shown} to {}: {e}\n", u.blob));
                                Err(upload_failure(e, &shown))
                            }
                        }
                    }
                })
                .await
        }
    };
    let (out, err) = log.into_inner();
    for (name, text) in [("fileuploadout.txt", out), ("fileuploaderr.txt", err)] {
        if let Ok(mut file) = tokio::fs::File::create(task_dir.join(name)).await {
            let _ = file.write_all(text.as_bytes()).await;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch_model::output_files::UploadCondition;

    fn entry(pattern: &str, path: Option<&str>) -> OutputFile {
        OutputFile {
            file_pattern: pattern.into(),
            container_url: "http://h/c".into(),
            path: path.map(String::from),
            upload_headers: vec![],
            condition: UploadCondition::TaskCompletion,
        }
    }

    #[test]
    fn patterns_match_and_name_blobs_as_documented() {
        let dir = tempfile::tempdir().unwrap();
        let task = dir.path().join("t");
        let wd = task.join("wd");
        for f in ["wd/out.txt", "wd/a/b.txt", "wd/a/c.log", "wd/.hidden.txt", "stdout.txt", "stderr.txt"] {
            std::fs::create_dir_all(task.join(f).parent().unwrap()).unwrap();
            std::fs::write(task.join(f), f).unwrap();
        }
        let names = |f: OutputFile, env: &[(String, String)]| {
            let mut v: Vec<String> = matches(&f, &wd, env).unwrap().into_iter().map(|(_, b)| b).collect();
            v.sort();
            v
        };
        assert_eq!(names(entry("../std*.txt", Some("t1")), &[]), ["t1/stderr.txt", "t1/stdout.txt"]);
        assert_eq!(names(entry("**/*.txt", None), &[]), ["a/b.txt", "out.txt"], "** recurses; a leading dot needs spelling");
        assert_eq!(names(entry(".*.txt", None), &[]), [".hidden.txt"]);
        assert_eq!(names(entry("a/[bc].*", Some("x/")), &[]), ["x/b.txt", "x/c.log"]);
        assert_eq!(names(entry("out.txt", Some("results/final.txt")), &[]), ["results/final.txt"]);
        assert_eq!(names(entry("out.txt", None), &[]), ["out.txt"]);
        assert!(names(entry("missing.txt", None), &[]).is_empty());
        let env = vec![("AZ_BATCH_TASK_DIR".to_string(), task.to_string_lossy().into_owned())];
        assert_eq!(names(entry("$AZ_BATCH_TASK_DIR/std*.txt", None), &env), ["stderr.txt", "stdout.txt"]);
        assert_eq!(names(entry("${AZ_BATCH_TASK_DIR}/wd/out.txt", None), &env), ["out.txt"]);
    }

    #[test]
    fn variables_expand_like_a_shell() {
        let env = vec![("A".to_string(), "x".to_string()), ("A_B".to_string(), "y".to_string())];
        assert_eq!(expand("$A/${A_B}/$A_B/$NONE/$/a$", &env), "x/y/y//$/a$");
    }
}
