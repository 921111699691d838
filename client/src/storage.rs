//! Azure Blob Storage essentials, shared by the emulator's node agent (the linked storage's
//! SAS), its tests and the conformance suite (putting inputs and reading outputs the way a
//! user's program does): connection strings, service SAS, Shared Key signing of blob requests,
//! and (feature `http`) a minimal client. Works with the real service and Azurite's path-style
//! URLs alike.

use time::OffsetDateTime;

/// The storage REST version requests ask for and SAS tokens are signed with.
pub const STORAGE_VERSION: &str = "2021-08-06";
/// Azurite's well-known development account (public; documented by Microsoft).
pub const DEV_STORAGE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known development key (public).
pub const DEV_STORAGE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A storage account: its name, key and blob endpoint.
#[derive(Clone, PartialEq)]
pub struct StorageAccount {
    pub account: String,
    key: Vec<u8>,
    /// The blob service endpoint, without a trailing slash (`https://acct.blob.core.windows.net`,
    /// or Azurite's `http://127.0.0.1:10000/devstoreaccount1`).
    pub blob_endpoint: String,
}

impl std::fmt::Debug for StorageAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageAccount").field("account", &self.account).field("blob_endpoint", &self.blob_endpoint).finish_non_exhaustive()
    }
}

/// Percent-encodes one path segment (a blob name's part between slashes).
pub fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A blob name as a URL path (each segment encoded, slashes kept).
pub fn encode_blob_name(name: &str) -> String {
    name.split('/').map(encode_path_segment).collect::<Vec<_>>().join("/")
}

/// Percent-encodes a query value.
fn encode_query(s: &str) -> String {
    encode_path_segment(s)
}

impl StorageAccount {
    /// Parses `AccountName=…;AccountKey=…;BlobEndpoint=…` (or `DefaultEndpointsProtocol` and
    /// `EndpointSuffix`), or `UseDevelopmentStorage=true` (Azurite on 127.0.0.1:10000).
    pub fn from_connection_string(s: &str) -> Result<Self, String> {
        use base64::Engine;
        let parts: Vec<(String, String)> = s
            .split(';')
            .filter(|p| !p.trim().is_empty())
            .filter_map(|p| p.split_once('=').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())))
            .collect();
        let get = |k: &str| parts.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            let key = base64::engine::general_purpose::STANDARD.decode(DEV_STORAGE_KEY).map_err(|e| e.to_string())?;
            return Ok(Self { account: DEV_STORAGE_ACCOUNT.into(), key, blob_endpoint: format!("http://127.0.0.1:10000/{DEV_STORAGE_ACCOUNT}") });
        }
        let account = get("accountname").ok_or("the connection string has no AccountName")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(get("accountkey").ok_or("the connection string has no AccountKey")?)
            .map_err(|e| format!("AccountKey: {e}"))?;
        let blob_endpoint = match get("blobendpoint") {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => {
                let protocol = get("defaultendpointsprotocol").unwrap_or_else(|| "https".into());
                let suffix = get("endpointsuffix").unwrap_or_else(|| "core.windows.net".into());
                format!("{protocol}://{account}.blob.{suffix}")
            }
        };
        if !(blob_endpoint.starts_with("http://") || blob_endpoint.starts_with("https://")) {
            return Err(format!("BlobEndpoint {blob_endpoint} is not an http(s) URL"));
        }
        Ok(Self { account, key, blob_endpoint })
    }

    /// A container's URL, without a SAS.
    pub fn container_url(&self, container: &str) -> String {
        format!("{}/{}", self.blob_endpoint, encode_path_segment(container))
    }

    /// A container URL with a service SAS: `permissions` in the service's order (`racwdl`),
    /// valid until `expiry`.
    pub fn container_sas_url(&self, container: &str, permissions: &str, expiry: OffsetDateTime) -> String {
        let se = expiry
            .replace_nanosecond(0)
            .unwrap_or(expiry)
            .to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let canonical = format!("/blob/{}/{container}", self.account);
        // Service SAS, version 2020-12-06 and later: permissions, start, expiry, resource,
        // identifier, IP, protocol, version, resource type, snapshot time, encryption scope,
        // then the five response-header overrides.
        let to_sign = format!("{permissions}\n\n{se}\n{canonical}\n\n\n\n{STORAGE_VERSION}\nc\n\n\n\n\n\n\n");
        let sig = crate::auth::sign_with_key_bytes(&self.key, &to_sign);
        format!("{}?sv={STORAGE_VERSION}&sr=c&sp={permissions}&se={}&sig={}", self.container_url(container), encode_query(&se), encode_query(&sig))
    }

    /// A blob's URL with its container's SAS.
    pub fn blob_sas_url(&self, container: &str, name: &str, permissions: &str, expiry: OffsetDateTime) -> String {
        let sas = self.container_sas_url(container, permissions, expiry);
        let (base, query) = sas.split_once('?').unwrap_or((&sas, ""));
        format!("{base}/{}?{query}", encode_blob_name(name))
    }

    /// The `Authorization` header of a blob request signed with Shared Key: `path` is the URL's
    /// path (encoded), `query` its parameters, `headers` the request's headers (the `x-ms-*`
    /// ones are signed, with `x-ms-date` and `x-ms-version` among them).
    pub fn authorization(&self, method: &str, path: &str, query: &[(&str, &str)], headers: &[(&str, &str)], content_length: usize) -> String {
        let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_string()).unwrap_or_default();
        let length = if content_length == 0 { String::new() } else { content_length.to_string() };
        let mut to_sign = format!(
            "{method}\n{}\n{}\n{length}\n{}\n{}\n\n{}\n{}\n{}\n{}\n{}\n",
            header("content-encoding"),
            header("content-language"),
            header("content-md5"),
            header("content-type"),
            header("if-modified-since"),
            header("if-match"),
            header("if-none-match"),
            header("if-unmodified-since"),
            header("range")
        );
        let mut ms: Vec<(String, String)> =
            headers.iter().filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-ms-")).map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string())).collect();
        ms.sort();
        for (k, v) in &ms {
            to_sign.push_str(&format!("{k}:{v}\n"));
        }
        to_sign.push_str(&format!("/{}{path}", self.account));
        let mut q: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect();
        q.sort();
        for (k, v) in &q {
            to_sign.push_str(&format!("\n{k}:{v}"));
        }
        format!("SharedKey {}:{}", self.account, crate::auth::sign_with_key_bytes(&self.key, &to_sign))
    }
}

#[cfg(feature = "http")]
pub use client::StorageClient;

#[cfg(feature = "http")]
mod client {
    use super::*;

    /// A minimal Shared Key blob client: what a user's program does around a Batch job.
    #[derive(Clone)]
    pub struct StorageClient {
        pub account: StorageAccount,
        http: reqwest::Client,
    }

    impl StorageClient {
        pub fn new(account: StorageAccount) -> Self {
            Self { account, http: reqwest::Client::new() }
        }

        /// A signed request to `container[/blob]`.
        async fn send(
            &self,
            method: reqwest::Method,
            container: &str,
            blob: Option<&str>,
            query: &[(&str, &str)],
            headers: &[(&str, &str)],
            body: Vec<u8>,
        ) -> Result<reqwest::Response, String> {
            let url = match blob {
                Some(b) => format!("{}/{}", self.account.container_url(container), encode_blob_name(b)),
                None => self.account.container_url(container),
            };
            let path = url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
            let date = OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc2822).unwrap_or_default().replace("+0000", "GMT");
            let mut all: Vec<(&str, &str)> = headers.to_vec();
            all.push(("x-ms-date", &date));
            all.push(("x-ms-version", STORAGE_VERSION));
            let auth = self.account.authorization(method.as_str(), &path, query, &all, body.len());
            let mut req = self.http.request(method, &url).query(query).header("Authorization", auth).header("Content-Length", body.len());
            for (k, v) in &all {
                req = req.header(*k, *v);
            }
            req.body(body).send().await.map_err(|e| e.to_string())
        }

        async fn ok(resp: reqwest::Response, what: &str) -> Result<reqwest::Response, String> {
            if resp.status().is_success() {
                Ok(resp)
            } else {
                Err(format!("{what}: {} {}", resp.status(), resp.text().await.unwrap_or_default()))
            }
        }

        pub async fn create_container(&self, name: &str) -> Result<(), String> {
            let r = self.send(reqwest::Method::PUT, name, None, &[("restype", "container")], &[], Vec::new()).await?;
            Self::ok(r, &format!("create container {name}")).await.map(|_| ())
        }

        pub async fn delete_container(&self, name: &str) -> Result<(), String> {
            let r = self.send(reqwest::Method::DELETE, name, None, &[("restype", "container")], &[], Vec::new()).await?;
            Self::ok(r, &format!("delete container {name}")).await.map(|_| ())
        }

        pub async fn put_blob(&self, container: &str, name: &str, bytes: &[u8]) -> Result<(), String> {
            let r = self.send(reqwest::Method::PUT, container, Some(name), &[], &[("x-ms-blob-type", "BlockBlob")], bytes.to_vec()).await?;
            Self::ok(r, &format!("put blob {name}")).await.map(|_| ())
        }

        /// A blob's bytes and headers, or `None` when it does not exist.
        pub async fn get_blob(&self, container: &str, name: &str) -> Result<Option<(Vec<u8>, reqwest::header::HeaderMap)>, String> {
            let r = self.send(reqwest::Method::GET, container, Some(name), &[], &[], Vec::new()).await?;
            if r.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let r = Self::ok(r, &format!("get blob {name}")).await?;
            let headers = r.headers().clone();
            Ok(Some((r.bytes().await.map_err(|e| e.to_string())?.to_vec(), headers)))
        }

        /// The names of a container's blobs, sorted (every page).
        pub async fn list_blobs(&self, container: &str) -> Result<Vec<String>, String> {
            let mut names = Vec::new();
            let mut marker = String::new();
            loop {
                let mut query = vec![("restype", "container"), ("comp", "list")];
                if !marker.is_empty() {
                    query.push(("marker", &marker));
                }
                let r = self.send(reqwest::Method::GET, container, None, &query, &[], Vec::new()).await?;
                let body = Self::ok(r, &format!("list {container}")).await?.text().await.map_err(|e| e.to_string())?;
                names.extend(body.split("<Name>").skip(1).filter_map(|s| s.split("</Name>").next()).map(unescape));
                marker = body.split("<NextMarker>").nth(1).and_then(|s| s.split("</NextMarker>").next()).unwrap_or_default().to_string();
                if marker.is_empty() {
                    names.sort();
                    return Ok(names);
                }
            }
        }
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_and_sas_urls() {
        let dev = StorageAccount::from_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!((dev.account.as_str(), dev.blob_endpoint.as_str()), ("devstoreaccount1", "http://127.0.0.1:10000/devstoreaccount1"));
        let real =
            StorageAccount::from_connection_string("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net").unwrap();
        assert_eq!(real.blob_endpoint, "https://acct.blob.core.windows.net");
        assert!(StorageAccount::from_connection_string("AccountName=a").is_err());
        let expiry = time::macros::datetime!(2030-01-01 00:00 UTC);
        let sas = dev.blob_sas_url("in", "dir/a b.txt", "r", expiry);
        assert!(sas.starts_with("http://127.0.0.1:10000/devstoreaccount1/in/dir/a%20b.txt?sv=2021-08-06&sr=c&sp=r&se=2030-01-01T00%3A00%3A00Z&sig="), "{sas}");
        assert!(!format!("{dev:?}").contains("Eby8"), "the key is not shown");
    }
}
