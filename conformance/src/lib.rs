//! The conformance suite: scenarios that state how Azure Batch behaves, each naming the source
//! it checks, runnable against batch-emulator or a real Batch account. The same scenario code
//! runs on both targets; only timeouts and the pool profile differ.
//!
//! * [`Target`]: where to run and how long to wait.
//! * [`scenarios`]: the registry.
//! * [`run`]: runs the selected scenarios, cleaning up after each even when it fails.
//! * [`report`]: the readable table, JSON and JUnit XML.

pub mod elastic_scenarios;
pub mod inter_node_scenarios;
pub mod report;
pub mod scenarios;
pub mod storage_scenarios;

use batch_client::models::*;
use batch_client::{ApiError, BatchClient, Credentials};
use futures::future::BoxFuture;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which kind of service the suite talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Emulator,
    Azure,
}

/// The pool a scenario needs on the target (a real account needs real values).
#[derive(Debug, Clone)]
pub struct PoolProfile {
    pub vm_size: String,
    pub image_reference: serde_json::Value,
    pub node_agent_sku_id: String,
    /// An image reference for container pools (must support containers on Azure).
    pub container_image_reference: serde_json::Value,
    pub container_node_agent_sku_id: String,
    /// Where the fixture images are (`batch-emulator-fixture/` locally; a registry path the
    /// account can pull from on Azure).
    pub image_prefix: String,
    /// Credentials of that registry, if it needs any (`containerRegistries` entry).
    pub registry: Option<serde_json::Value>,
}

impl PoolProfile {
    /// The emulator's profile: any image works, fixture images are local.
    pub fn emulator() -> Self {
        Self {
            vm_size: "standard_d2s_v3".into(),
            image_reference: serde_json::json!({"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts"}),
            node_agent_sku_id: "batch.node.ubuntu 22.04".into(),
            container_image_reference: serde_json::json!({"publisher": "microsoft-azure-batch", "offer": "ubuntu-server-container", "sku": "20-04-lts"}),
            container_node_agent_sku_id: "batch.node.ubuntu 20.04".into(),
            image_prefix: "batch-emulator-fixture/".into(),
            registry: None,
        }
    }
}

/// Where the suite runs.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: TargetKind,
    pub url: String,
    pub credentials: Credentials,
    pub profile: PoolProfile,
    /// The account's linked storage account (a storage connection string): where the storage
    /// scenarios put inputs and collect outputs. On the emulator it is also `--auto-storage`.
    pub storage: Option<String>,
    /// An application package the account has, as `(application id, version)`, holding
    /// [`APP_PACKAGE_SCRIPT`] as `hello.sh` (`BATCH_CONFORMANCE_APPLICATION=id:version` on Azure;
    /// on the emulator the suite makes the package, see [`write_app_package_store`]).
    pub application: Option<(String, String)>,
}

/// The script of the conformance application package.
pub const APP_PACKAGE_SCRIPT: &str = "#!/bin/sh\necho hello from the package\n";
/// The application the suite makes for an emulator.
pub const APP_PACKAGE_ID: &str = "conformance-app";
pub const APP_PACKAGE_VERSION: &str = "1.0";

/// Writes a package store (`--app-packages`) holding the conformance application, for an
/// emulator the suite starts.
pub fn write_app_package_store(dir: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let app = dir.join(APP_PACKAGE_ID);
    std::fs::create_dir_all(&app)?;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(app.join(format!("{APP_PACKAGE_VERSION}.zip")))?);
    zip.start_file("hello.sh", zip::write::SimpleFileOptions::default().unix_permissions(0o755)).map_err(std::io::Error::other)?;
    zip.write_all(APP_PACKAGE_SCRIPT.as_bytes())?;
    zip.finish().map_err(std::io::Error::other)?;
    std::fs::write(app.join("default"), APP_PACKAGE_VERSION)
}

impl Target {
    /// How long to wait for nodes and tasks: seconds on the emulator, minutes on Azure.
    pub fn patience(&self) -> Duration {
        match self.kind {
            TargetKind::Emulator => Duration::from_secs(60),
            TargetKind::Azure => Duration::from_secs(30 * 60),
        }
    }

    /// A target for a real account from the environment: `BATCH_ACCOUNT_URL` and either
    /// `BATCH_ACCOUNT_NAME` + `BATCH_ACCOUNT_KEY` or `BATCH_ACCESS_TOKEN`; the pool profile
    /// from `BATCH_CONFORMANCE_VM_SIZE`, `…_IMAGE` (`publisher:offer:sku`), `…_NODE_AGENT_SKU`,
    /// `…_CONTAINER_IMAGE`, `…_CONTAINER_NODE_AGENT_SKU`, `…_IMAGE_PREFIX`, and registry
    /// credentials `…_REGISTRY_SERVER`/`_USERNAME`/`_PASSWORD`.
    pub fn azure_from(env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let url = env("BATCH_ACCOUNT_URL");
        let credentials = match (env("BATCH_ACCOUNT_NAME"), env("BATCH_ACCOUNT_KEY"), env("BATCH_ACCESS_TOKEN")) {
            (Some(account), Some(key), _) => Credentials::SharedKey { account, key },
            (_, _, Some(token)) => Credentials::Bearer(token),
            _ => return Err(missing_azure_settings()),
        };
        let Some(url) = url else { return Err(missing_azure_settings()) };
        let image = |name: &str, default: serde_json::Value| match env(name) {
            Some(v) => {
                let parts: Vec<&str> = v.split(':').collect();
                match parts.as_slice() {
                    [p, o, s] => Ok(serde_json::json!({"publisher": p, "offer": o, "sku": s})),
                    _ => Err(format!("{name} must be publisher:offer:sku")),
                }
            }
            None => Ok(default),
        };
        let base = PoolProfile::emulator();
        let registry = env("BATCH_CONFORMANCE_REGISTRY_SERVER").map(|server| {
            serde_json::json!({"registryServer": server, "username": env("BATCH_CONFORMANCE_REGISTRY_USERNAME"), "password": env("BATCH_CONFORMANCE_REGISTRY_PASSWORD")})
        });
        let profile = PoolProfile {
            vm_size: env("BATCH_CONFORMANCE_VM_SIZE").unwrap_or_else(|| "standard_d2s_v3".into()),
            image_reference: image("BATCH_CONFORMANCE_IMAGE", base.image_reference)?,
            node_agent_sku_id: env("BATCH_CONFORMANCE_NODE_AGENT_SKU").unwrap_or(base.node_agent_sku_id),
            container_image_reference: image("BATCH_CONFORMANCE_CONTAINER_IMAGE", base.container_image_reference)?,
            container_node_agent_sku_id: env("BATCH_CONFORMANCE_CONTAINER_NODE_AGENT_SKU").unwrap_or(base.container_node_agent_sku_id),
            image_prefix: env("BATCH_CONFORMANCE_IMAGE_PREFIX").unwrap_or(base.image_prefix),
            registry,
        };
        let application = env("BATCH_CONFORMANCE_APPLICATION").and_then(|v| v.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())));
        Ok(Self { kind: TargetKind::Azure, url, credentials, profile, storage: env("BATCH_CONFORMANCE_STORAGE"), application })
    }
}

/// The message for `--target azure` without credentials.
pub fn missing_azure_settings() -> String {
    "--target azure needs BATCH_ACCOUNT_URL and either BATCH_ACCOUNT_NAME with BATCH_ACCOUNT_KEY or BATCH_ACCESS_TOKEN \
     (and, for container scenarios, BATCH_CONFORMANCE_IMAGE_PREFIX: a registry path holding the fixture images)"
        .into()
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
    /// The emulator answered 501 for something the scenario needs.
    NotYetEmulated(String),
}

/// A scenario's failure: an assertion, or a call that failed.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        if e.code() == Some("NotImplemented") {
            return Failure(format!("{NOT_YET}{e}"));
        }
        Failure(format!("unexpected service error: {e}"))
    }
}

const NOT_YET: &str = "not yet emulated: ";

/// Fails the scenario unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::Failure(format!($($msg)+)));
        }
    };
}

/// What a scenario gets: a client, a unique prefix for the ids it creates, the target, and a
/// list of things to delete afterwards.
pub struct Ctx {
    pub client: BatchClient,
    pub target: Target,
    pub prefix: String,
    cleanup: Mutex<Vec<(String, String)>>,
}

impl Ctx {
    /// An id unique to this run (`<prefix>-<name>`).
    pub fn id(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// A job the scenario made itself (deleted after it).
    pub fn remember_job(&self, id: &str) {
        self.remember("job", id);
    }

    fn remember(&self, kind: &str, id: &str) {
        self.cleanup.lock().unwrap_or_else(|e| e.into_inner()).push((kind.into(), id.into()));
    }

    /// A plain pool spec with the target's profile.
    pub fn pool_spec(&self, name: &str, nodes: i32) -> BatchPoolCreateOptions {
        let p = &self.target.profile;
        serde_json::from_value(serde_json::json!({
            "id": self.id(name), "vmSize": p.vm_size, "targetDedicatedNodes": nodes,
            "virtualMachineConfiguration": {"imageReference": p.image_reference, "nodeAgentSKUId": p.node_agent_sku_id}
        }))
        .unwrap_or_default()
    }

    /// A container pool spec with the fixture images prefetched.
    pub fn container_pool_spec(&self, name: &str, nodes: i32, images: &[&str]) -> BatchPoolCreateOptions {
        let p = &self.target.profile;
        let images: Vec<String> = images.iter().map(|i| self.image(i)).collect();
        let mut cc = serde_json::json!({"type": "dockerCompatible", "containerImageNames": images});
        if let Some(r) = &p.registry {
            cc["containerRegistries"] = serde_json::json!([r]);
        }
        serde_json::from_value(serde_json::json!({
            "id": self.id(name), "vmSize": p.vm_size, "targetDedicatedNodes": nodes,
            "virtualMachineConfiguration": {"imageReference": p.container_image_reference, "nodeAgentSKUId": p.container_node_agent_sku_id, "containerConfiguration": cc}
        }))
        .unwrap_or_default()
    }

    /// A fixture image reference on this target (`plain:1` → `<prefix>plain:1`).
    pub fn image(&self, name: &str) -> String {
        format!("{}{name}", self.target.profile.image_prefix)
    }

    /// Creates a pool (deleted after the scenario) and waits until its nodes are idle.
    pub async fn create_pool(&self, spec: &BatchPoolCreateOptions) -> Result<Vec<BatchNode>, Failure> {
        self.client.create_pool(spec).await?;
        self.remember("pool", &spec.id);
        let want = spec.target_dedicated_nodes.unwrap_or(0) as usize;
        let deadline = Instant::now() + self.target.patience();
        loop {
            let nodes = self.client.list_nodes(&spec.id).await?;
            if nodes.len() == want && nodes.iter().all(|n| n.state.as_deref() == Some("idle")) {
                return Ok(nodes);
            }
            if nodes.iter().any(|n| matches!(n.state.as_deref(), Some("unusable" | "starttaskfailed"))) {
                return Err(Failure(format!(
                    "a node of {} is {:?}: {:?}",
                    spec.id,
                    nodes.iter().map(|n| n.state.clone()).collect::<Vec<_>>(),
                    nodes.iter().map(|n| n.errors.clone()).collect::<Vec<_>>()
                )));
            }
            if Instant::now() > deadline {
                return Err(Failure(format!("nodes of {} not idle in time: {:?}", spec.id, nodes.iter().map(|n| n.state.clone()).collect::<Vec<_>>())));
            }
            tokio::time::sleep(self.poll_interval()).await;
        }
    }

    /// Creates a job on a pool (deleted after the scenario).
    pub async fn create_job(&self, name: &str, pool_id: &str, extra: serde_json::Value) -> Result<String, Failure> {
        let id = self.id(name);
        let mut body = serde_json::json!({"id": id, "poolInfo": {"poolId": pool_id}});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let spec: BatchJobCreateOptions = serde_json::from_value(body).map_err(|e| Failure(e.to_string()))?;
        self.client.create_job(&spec).await?;
        self.remember("job", &id);
        Ok(id)
    }

    /// Creates a job schedule from JSON (`id` added; deleted with its jobs after the scenario).
    pub async fn create_job_schedule(&self, name: &str, body: serde_json::Value) -> Result<String, Failure> {
        let id = self.id(name);
        let mut full = serde_json::json!({"id": id});
        if let (Some(b), Some(e)) = (full.as_object_mut(), body.as_object()) {
            b.extend(e.clone());
        }
        self.client.send_json(reqwest::Method::POST, "/jobschedules", &full).await?;
        self.remember("jobschedule", &id);
        Ok(id)
    }

    /// Adds a task from JSON.
    pub async fn add_task(&self, job: &str, body: serde_json::Value) -> Result<(), Failure> {
        let spec: BatchTaskCreateOptions = serde_json::from_value(body).map_err(|e| Failure(e.to_string()))?;
        self.client.create_task(job, &spec).await?;
        Ok(())
    }

    /// Waits for a task to complete.
    pub async fn completed(&self, job: &str, task: &str) -> Result<BatchTask, Failure> {
        Ok(self.client.wait_for_task(job, task, |s| s == "completed", self.target.patience()).await?)
    }

    /// A blob container for this scenario (deleted after it) in the target's linked storage:
    /// the client and the container's name. Without a storage account the scenario fails.
    pub async fn storage_container(&self, name: &str) -> Result<(batch_client::storage::StorageClient, String), Failure> {
        let Some(conn) = &self.target.storage else {
            return Err(Failure("this scenario needs the account's linked storage: --storage CONNECTION_STRING (or BATCH_CONFORMANCE_STORAGE)".into()));
        };
        let account = batch_client::storage::StorageAccount::from_connection_string(conn).map_err(Failure)?;
        let client = batch_client::storage::StorageClient::new(account);
        let container: String = self.id(name).to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(63).collect();
        client.create_container(&container).await.map_err(Failure)?;
        self.remember("container", &container);
        Ok((client, container))
    }

    /// A task file as text.
    pub async fn file(&self, job: &str, task: &str, path: &str) -> Result<String, Failure> {
        Ok(String::from_utf8_lossy(&self.client.get_task_file(job, task, path).await?).into_owned())
    }

    fn poll_interval(&self) -> Duration {
        match self.target.kind {
            TargetKind::Emulator => Duration::from_millis(20),
            TargetKind::Azure => Duration::from_secs(5),
        }
    }

    /// Deletes what the scenario created, ignoring what is gone.
    async fn clean_up(&self) {
        let items = std::mem::take(&mut *self.cleanup.lock().unwrap_or_else(|e| e.into_inner()));
        for path in cleanup_plan(&items) {
            let _ = self.client.send_raw(reqwest::Method::DELETE, &path, &[], &[], None).await;
        }
        if let Some(account) = self.target.storage.as_deref().and_then(|c| batch_client::storage::StorageAccount::from_connection_string(c).ok()) {
            let storage = batch_client::storage::StorageClient::new(account);
            for (_, name) in items.iter().filter(|(k, _)| k == "container") {
                let _ = storage.delete_container(name).await;
            }
        }
    }
}

/// The deletions that clean up after a scenario: job schedules (with their jobs), then jobs
/// (newest first, so their tasks stop before their pools go), then pools; each id once.
pub fn cleanup_plan(created: &[(String, String)]) -> Vec<String> {
    let mut plan = Vec::new();
    for kind in ["jobschedule", "job", "pool"] {
        for (_, id) in created.iter().rev().filter(|(k, _)| k == kind) {
            let path = format!("/{kind}s/{}", batch_client::encode_segment(id));
            if !plan.contains(&path) {
                plan.push(path);
            }
        }
    }
    plan
}

/// A scenario's body.
pub type ScenarioFn = for<'a> fn(&'a Ctx) -> BoxFuture<'a, Result<(), Failure>>;

/// A scenario: a name, the area, the source of the behaviour it checks, and its body.
pub struct Scenario {
    pub name: &'static str,
    pub area: &'static str,
    pub source: &'static str,
    pub run: ScenarioFn,
}

/// The result of one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub name: String,
    pub area: String,
    pub source: String,
    pub outcome: Outcome,
    pub duration: Duration,
}

/// Runs the scenarios whose name contains `filter` (all with `None`).
pub async fn run(target: &Target, filter: Option<&str>) -> Vec<ScenarioResult> {
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let mut results = Vec::new();
    for s in scenarios::all().into_iter().filter(|s| filter.is_none_or(|f| s.name.contains(f))) {
        let ctx = Ctx {
            client: BatchClient::new(&target.url, target.credentials.clone()),
            target: target.clone(),
            prefix: format!("conf-{run_id}-{}", s.name.replace('_', "-")).chars().take(40).collect(),
            cleanup: Mutex::new(Vec::new()),
        };
        let started = Instant::now();
        let outcome = match tokio::time::timeout(target.patience() * 2, (s.run)(&ctx)).await {
            Ok(Ok(())) => Outcome::Passed,
            Ok(Err(Failure(m))) => match m.strip_prefix(NOT_YET) {
                Some(rest) if target.kind == TargetKind::Emulator => Outcome::NotYetEmulated(rest.to_string()),
                _ => Outcome::Failed(m),
            },
            Err(_) => Outcome::Failed(format!("timed out after {:?}", target.patience() * 2)),
        };
        ctx.clean_up().await;
        results.push(ScenarioResult { name: s.name.into(), area: s.area.into(), source: s.source.into(), outcome, duration: started.elapsed() });
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn azure_without_credentials_says_what_to_set() {
        let err = Target::azure_from(|_| None).unwrap_err();
        assert!(err.contains("BATCH_ACCOUNT_URL") && err.contains("BATCH_ACCOUNT_KEY"), "{err}");
        let env: HashMap<&str, &str> = HashMap::from([("BATCH_ACCOUNT_URL", "https://a.b.batch.azure.com")]);
        assert!(Target::azure_from(|k| env.get(k).map(|v| v.to_string())).is_err());
    }

    #[test]
    fn azure_settings_build_a_target_with_the_pool_profile() {
        let env: HashMap<&str, &str> = HashMap::from([
            ("BATCH_ACCOUNT_URL", "https://acct.westeurope.batch.azure.com"),
            ("BATCH_ACCOUNT_NAME", "acct"),
            ("BATCH_ACCOUNT_KEY", "a2V5"),
            ("BATCH_CONFORMANCE_IMAGE", "canonical:ubuntu-24_04-lts:server"),
            ("BATCH_CONFORMANCE_IMAGE_PREFIX", "myacr.azurecr.io/fixtures/"),
            ("BATCH_CONFORMANCE_REGISTRY_SERVER", "myacr.azurecr.io"),
        ]);
        let t = Target::azure_from(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(t.kind, TargetKind::Azure);
        assert!(matches!(t.credentials, Credentials::SharedKey { ref account, .. } if account == "acct"));
        assert_eq!(t.profile.image_reference["offer"], "ubuntu-24_04-lts");
        assert_eq!(t.profile.image_prefix, "myacr.azurecr.io/fixtures/");
        assert_eq!(t.profile.registry.as_ref().unwrap()["registryServer"], "myacr.azurecr.io");
        assert_eq!(t.patience(), Duration::from_secs(1800));
        let bad: HashMap<&str, &str> = HashMap::from([("BATCH_ACCOUNT_URL", "u"), ("BATCH_ACCESS_TOKEN", "t"), ("BATCH_CONFORMANCE_IMAGE", "only-one-part")]);
        assert!(Target::azure_from(|k| bad.get(k).map(|v| v.to_string())).is_err());
    }

    #[test]
    fn cleanup_deletes_schedules_then_jobs_then_pools_once_each() {
        let created: Vec<(String, String)> = [("pool", "p1"), ("job", "j1"), ("pool", "p2"), ("job", "j2"), ("job", "j1"), ("jobschedule", "s1")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(cleanup_plan(&created), vec!["/jobschedules/s1", "/jobs/j1", "/jobs/j2", "/pools/p2", "/pools/p1"]);
        assert!(cleanup_plan(&[]).is_empty());
    }

    #[test]
    fn every_scenario_names_its_source_and_names_are_unique() {
        let all = scenarios::all();
        assert!(all.len() >= 30, "{} scenarios", all.len());
        let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!(all.iter().all(|s| !s.source.is_empty()));
    }
}
