//! A small Azure Blob Storage client for the node agent's data path: List Blobs and Get Blob
//! (resource files), Put Blob and Put Block / Put Block List (output files), through the SAS
//! URLs tasks give (the linked storage account's SAS comes from
//! [`batch_client::storage::StorageAccount`]). Bodies are streamed between the network and files, never held
//! whole in memory. Works against the real service and Azurite (path-style URLs).

use futures::StreamExt;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncReadExt;

use batch_client::storage::STORAGE_VERSION;
/// A file larger than this is uploaded in blocks of this size.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// How much of a download is held before it is written.
const WRITE_BUFFER: usize = 1024 * 1024;

/// Runs file work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(std::io::Error::other)?
}

/// How a storage request failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The service answered with an error status.
    #[error("{status} {code}: {message}")]
    Status { status: u16, code: String, message: String },
    #[error("timed out: {0}")]
    TimedOut(String),
    #[error("{0}")]
    Transport(String),
    /// A local file could not be created (`create`) or written/read.
    #[error("{0}")]
    File(std::io::Error, bool),
}

impl BlobError {
    fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            BlobError::TimedOut(e.to_string())
        } else {
            BlobError::Transport(format!("{e}{}", std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default()))
        }
    }

    async fn from_response(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let code = resp.headers().get("x-ms-error-code").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body = resp.text().await.unwrap_or_default();
        let message = between(&body, "<Message>", "</Message>").unwrap_or(&body).lines().next().unwrap_or_default().to_string();
        BlobError::Status { status, code, message }
    }
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

/// The client: one connection pool, connect and read timeouts (a hanging endpoint fails the
/// task that uses it, never the API).
#[derive(Clone)]
pub struct BlobClient {
    http: reqwest::Client,
}

impl Default for BlobClient {
    fn default() -> Self {
        Self::new(Duration::from_secs(10), Duration::from_secs(60))
    }
}

impl BlobClient {
    pub fn new(connect_timeout: Duration, read_timeout: Duration) -> Self {
        let http = reqwest::Client::builder().connect_timeout(connect_timeout).read_timeout(read_timeout).build().unwrap_or_else(|_| reqwest::Client::new());
        Self { http }
    }

    /// The names of the blobs in a container whose names start with `prefix`, every page.
    pub async fn list(&self, container: &url::Url, prefix: Option<&str>) -> Result<Vec<String>, BlobError> {
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut url = container.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("restype", "container").append_pair("comp", "list");
                if let Some(p) = prefix.filter(|p| !p.is_empty()) {
                    q.append_pair("prefix", p);
                }
                if let Some(m) = &marker {
                    q.append_pair("marker", m);
                }
            }
            let resp = self.http.get(url).header("x-ms-version", STORAGE_VERSION).send().await.map_err(BlobError::from_reqwest)?;
            if !resp.status().is_success() {
                return Err(BlobError::from_response(resp).await);
            }
            let body = resp.text().await.map_err(BlobError::from_reqwest)?;
            let (page, next) = parse_list(&body).map_err(BlobError::Transport)?;
            names.extend(page);
            match next {
                Some(m) if !m.is_empty() => marker = Some(m),
                _ => return Ok(names),
            }
        }
    }

    /// Downloads a blob (or any URL) to `dest`, creating its directory, streamed: at most
    /// [`WRITE_BUFFER`] of it in memory at once. The file gets `mode`. All the file work of one
    /// download is done in as few trips to the blocking pool as the size allows (two for a
    /// blob up to the buffer's size: create, then write and close), which on a busy machine is
    /// what a download of many small files spends its time on.
    pub async fn download_to(&self, url: &url::Url, dest: &Path, mode: u32) -> Result<u64, BlobError> {
        use std::io::Write as _;
        use std::os::unix::fs::PermissionsExt as _;
        let resp = self.http.get(url.clone()).header("x-ms-version", STORAGE_VERSION).send().await.map_err(BlobError::from_reqwest)?;
        if !resp.status().is_success() {
            return Err(BlobError::from_response(resp).await);
        }
        let path = dest.to_path_buf();
        let mut file = blocking(move || {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::File::create(&path)
        })
        .await
        .map_err(|e| BlobError::File(e, true))?;
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_BUFFER);
        let mut body = resp.bytes_stream();
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(BlobError::from_reqwest)?;
            if buf.len() + chunk.len() > WRITE_BUFFER && !buf.is_empty() {
                (file, buf) = blocking(move || {
                    file.write_all(&buf)?;
                    buf.clear();
                    Ok((file, buf))
                })
                .await
                .map_err(|e| BlobError::File(e, false))?;
            }
            buf.extend_from_slice(&chunk);
            written += chunk.len() as u64;
        }
        blocking(move || {
            file.write_all(&buf)?;
            file.set_permissions(std::fs::Permissions::from_mode(mode))
        })
        .await
        .map_err(|e| BlobError::File(e, false))?;
        Ok(written)
    }

    /// Uploads a file as a block blob: one Put Blob when it is small, else Put Block for each
    /// [`BLOCK_SIZE`] piece and Put Block List. `headers` are the task's `uploadHeaders`.
    pub async fn upload_from(&self, blob: &url::Url, src: &Path, headers: &[(String, String)]) -> Result<(), BlobError> {
        let len = tokio::fs::metadata(src).await.map_err(|e| BlobError::File(e, false))?.len();
        let with_headers = |mut req: reqwest::RequestBuilder| {
            req = req.header("x-ms-version", STORAGE_VERSION);
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req
        };
        if len <= BLOCK_SIZE as u64 {
            let bytes = tokio::fs::read(src).await.map_err(|e| BlobError::File(e, false))?;
            // Stated even when 0: storage refuses a PUT without it.
            let req = with_headers(self.http.put(blob.clone()))
                .header("x-ms-blob-type", "BlockBlob")
                .header(reqwest::header::CONTENT_LENGTH, bytes.len())
                .body(bytes);
            return check(req.send().await.map_err(BlobError::from_reqwest)?).await;
        }
        let mut file = tokio::fs::File::open(src).await.map_err(|e| BlobError::File(e, false))?;
        let mut ids = Vec::new();
        let mut buf = vec![0u8; BLOCK_SIZE];
        loop {
            let mut filled = 0;
            while filled < buf.len() {
                let n = file.read(&mut buf[filled..]).await.map_err(|e| BlobError::File(e, false))?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            use base64::Engine;
            let id = base64::engine::general_purpose::STANDARD.encode(format!("block-{:08}", ids.len()));
            let mut url = blob.clone();
            url.query_pairs_mut().append_pair("comp", "block").append_pair("blockid", &id);
            let req = self.http.put(url).header("x-ms-version", STORAGE_VERSION).body(buf[..filled].to_vec());
            check(req.send().await.map_err(BlobError::from_reqwest)?).await?;
            ids.push(id);
        }
        let list: String = ids.iter().map(|id| format!("<Latest>{id}</Latest>")).collect();
        let mut url = blob.clone();
        url.query_pairs_mut().append_pair("comp", "blocklist");
        let req = with_headers(self.http.put(url)).body(format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>{list}</BlockList>"));
        check(req.send().await.map_err(BlobError::from_reqwest)?).await
    }
}

async fn check(resp: reqwest::Response) -> Result<(), BlobError> {
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(BlobError::from_response(resp).await)
    }
}

/// The blob names and the next marker of one List Blobs page.
fn parse_list(xml: &str) -> Result<(Vec<String>, Option<String>), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let (mut names, mut next) = (Vec::new(), None);
    loop {
        match reader.read_event().map_err(|e| format!("List Blobs answer is not XML: {e}"))? {
            Event::Start(e) => path.push(e.name().as_ref().to_vec()),
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?.into_owned();
                let tail: Vec<&[u8]> = path.iter().rev().take(2).map(|p| p.as_slice()).collect();
                match tail.as_slice() {
                    [b"Name", b"Blob", ..] => names.push(text),
                    [b"NextMarker", ..] => next = Some(text),
                    _ => {}
                }
            }
            Event::Eof => return Ok((names, next)),
            _ => {}
        }
    }
}

/// A blob's URL in a container: the container URL's path plus the blob name (each segment
/// percent-encoded), the container URL's query (its SAS) kept.
pub fn blob_url(container: &url::Url, name: &str) -> url::Url {
    let mut url = container.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
        segments.extend(name.split('/'));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_pages_parse_names_and_markers() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://x/" ContainerName="c"><Prefix>p</Prefix><Blobs><Blob><Name>p/a&amp;b.txt</Name><Properties><Content-Length>3</Content-Length></Properties></Blob><Blob><Name>p/dir/c.txt</Name></Blob></Blobs><NextMarker>m2</NextMarker></EnumerationResults>"#;
        assert_eq!(parse_list(xml).unwrap(), (vec!["p/a&b.txt".to_string(), "p/dir/c.txt".to_string()], Some("m2".into())));
        let last = r#"<EnumerationResults><Blobs /><NextMarker /></EnumerationResults>"#;
        assert_eq!(parse_list(last).unwrap(), (vec![], None));
    }

    #[test]
    fn blob_urls_keep_the_sas_and_encode_names() {
        let c = url::Url::parse("http://127.0.0.1:10000/devstoreaccount1/input?sv=1&sig=a%2Bb").unwrap();
        assert_eq!(blob_url(&c, "dir/a b#.txt").as_str(), "http://127.0.0.1:10000/devstoreaccount1/input/dir/a%20b%23.txt?sv=1&sig=a%2Bb");
    }
}
