//! Batch's `docker create` rules as a pure function: (task, node, container settings) → the
//! Engine API's container-create body (node-and-container-semantics.md §1.2–1.8).
//!
//! * the task command line, split like the service splits it, is the CMD; an empty command line
//!   keeps the image CMD; the image ENTRYPOINT is kept unless `--entrypoint` is given;
//! * WORKDIR is the task working directory unless `workingDirectory` is
//!   `containerImageDefault` or `--workdir`/`-w` is given;
//! * the node root is bind-mounted at the same path, or only the `containerHostBatchBindMounts`
//!   sources (read-only where asked), and the variables of unmounted paths are removed;
//! * `containerRunOptions` are parsed like `docker create` arguments; an option that is not
//!   supported is an error naming it, never silently ignored;
//! * `-p HOST:CTR` publishes on the node's own address, so ports collide per node.
//!
//! No Docker and no I/O here: unit-tested on its own.

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountTypeEnum, PortBinding, ResourcesUlimits};
use std::collections::HashMap;
use std::path::Path;

/// Everything the translation needs.
#[derive(Debug, Clone)]
pub struct ContainerTaskInput<'a> {
    pub image: &'a str,
    /// The task command line (split here).
    pub command_line: &'a str,
    pub run_options: Option<&'a str>,
    /// `taskWorkingDirectory` (default) or `containerImageDefault`.
    pub working_directory: Option<&'a str>,
    /// `containerHostBatchBindMounts` as sent (`None`: the whole node root).
    pub bind_mounts: Option<&'a serde_json::Value>,
    /// The task's environment: job and task settings, then every `AZ_BATCH_*` variable.
    pub env: &'a [(String, String)],
    pub node_root: &'a Path,
    pub task_dir: &'a Path,
    /// The node's own address: published ports bind here.
    pub node_ip: &'a str,
    pub labels: &'a [(String, String)],
    /// The container user the task's identity maps to (`-u` in the run options wins).
    pub user: Option<&'a str>,
}

/// A container to create: its name (if `--name` was given) and the create body.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    pub name: Option<String>,
    pub body: ContainerCreateBody,
}

/// Why the settings cannot become a container (→ failureInfo `ContainerInvalidSettings`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("The container run option {0} is not supported by batch-emulator")]
    UnsupportedOption(String),
    #[error("The container run option {0} needs a value")]
    MissingValue(String),
    #[error("The value {value:?} of the container run option {option} is invalid")]
    InvalidValue { option: String, value: String },
    #[error("The container run options could not be split (unbalanced quotes)")]
    Unsplittable,
    #[error("The task command line could not be split (unbalanced quotes)")]
    CommandLine,
    #[error("containerHostBatchBindMounts source {0:?} is not one of Shared, Startup, VfsMounts, Task, JobPrep, Applications")]
    BindMountSource(String),
    #[error("workingDirectory must be containerImageDefault when the task directory is not mounted")]
    WorkingDirectoryNotMounted,
}

fn parse_size(option: &str, v: &str) -> Result<i64, SettingsError> {
    let bad = || SettingsError::InvalidValue { option: option.into(), value: v.into() };
    let lower = v.trim().to_ascii_lowercase();
    let (num, mult) = match lower.trim_end_matches('b').chars().last() {
        Some('k') => (&lower[..lower.trim_end_matches('b').len() - 1], 1i64 << 10),
        Some('m') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 30),
        _ => (lower.trim_end_matches('b'), 1),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if n < 0.0 {
        return Err(bad());
    }
    Ok((n * mult as f64) as i64)
}

fn parse_mount(spec: &str) -> Result<Mount, SettingsError> {
    let bad = || SettingsError::InvalidValue { option: "--mount".into(), value: spec.into() };
    let mut m = Mount { typ: Some(MountTypeEnum::VOLUME), ..Default::default() };
    for part in spec.split(',') {
        let (k, v) = part.split_once('=').map_or((part, None), |(k, v)| (k, Some(v)));
        match (k, v) {
            ("type", Some(t)) => {
                m.typ = Some(match t {
                    "bind" => MountTypeEnum::BIND,
                    "volume" => MountTypeEnum::VOLUME,
                    "tmpfs" => MountTypeEnum::TMPFS,
                    _ => return Err(bad()),
                })
            }
            ("source" | "src", Some(s)) => m.source = Some(s.into()),
            ("target" | "destination" | "dst", Some(t)) => m.target = Some(t.into()),
            ("readonly" | "ro", None | Some("true") | Some("1")) => m.read_only = Some(true),
            ("readonly" | "ro", Some("false") | Some("0")) => m.read_only = Some(false),
            _ => return Err(bad()),
        }
    }
    if m.target.is_none() {
        return Err(bad());
    }
    Ok(m)
}

/// Options tolerated and ignored: the agent runs containers detached and without a terminal
/// whatever is passed (REEF passes `-dit`; node-and-container-semantics.md §1.6).
fn tolerated_short(c: char) -> bool {
    matches!(c, 'd' | 'i' | 't')
}

/// What `containerRunOptions` asked for, as Engine API fields.
#[derive(Debug, Default)]
struct RunOptions {
    name: Option<String>,
    workdir: Option<String>,
    entrypoint: Option<Vec<String>>,
    user: Option<String>,
    hostname: Option<String>,
    env: Vec<(String, String)>,
    labels: HashMap<String, String>,
    binds: Vec<String>,
    mounts: Vec<Mount>,
    ports: HashMap<String, Option<Vec<PortBinding>>>,
    exposed: HashMap<String, HashMap<(), ()>>,
    host: HostConfig,
}

/// The Batch paths a container sees and the environment that goes with them.
struct BatchMounts {
    binds: Vec<String>,
    env: Vec<(String, String)>,
}

/// Builds the container for a task.
pub fn plan_container(input: &ContainerTaskInput<'_>) -> Result<ContainerPlan, SettingsError> {
    let argv = shlex::split(input.command_line).ok_or(SettingsError::CommandLine)?;
    let opts = parse_run_options(input)?;
    let mounted = batch_mounts(input, opts.workdir.is_some())?;
    let mut env = mounted.env;
    env.extend(opts.env);
    let mut binds = mounted.binds;
    binds.extend(opts.binds);
    let mut labels = opts.labels;
    labels.extend(input.labels.iter().cloned());
    let mut host = opts.host;
    if !binds.is_empty() {
        host.binds = Some(binds);
    }
    if !opts.mounts.is_empty() {
        host.mounts = Some(opts.mounts);
    }
    let exposed = (!opts.ports.is_empty()).then_some(opts.exposed);
    if !opts.ports.is_empty() {
        host.port_bindings = Some(opts.ports);
    }
    let working_dir = match (opts.workdir, input.working_directory) {
        (Some(w), _) => Some(w),
        (None, Some(w)) if w.eq_ignore_ascii_case("containerImageDefault") => None,
        _ => Some(input.task_dir.join("wd").display().to_string()),
    };
    let body = ContainerCreateBody {
        image: Some(input.image.to_string()),
        user: opts.user.or(input.user.map(String::from)),
        entrypoint: opts.entrypoint,
        hostname: opts.hostname,
        working_dir,
        cmd: (!argv.is_empty()).then_some(argv),
        env: Some(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(labels),
        exposed_ports: exposed,
        host_config: Some(host),
        ..Default::default()
    };
    Ok(ContainerPlan { name: opts.name, body })
}

/// Parses `containerRunOptions` like `docker create` does; an option that is not supported is
/// an error naming it.
fn parse_run_options(input: &ContainerTaskInput<'_>) -> Result<RunOptions, SettingsError> {
    let opts = match input.run_options {
        Some(o) => shlex::split(o).ok_or(SettingsError::Unsplittable)?,
        None => Vec::new(),
    };
    let mut out = RunOptions::default();
    let mut i = 0;
    while i < opts.len() {
        let tok = &opts[i];
        i += 1;
        if !tok.starts_with('-') || tok == "-" {
            return Err(SettingsError::UnsupportedOption(tok.clone()));
        }
        // Short flags bundled together (-dit) that are all tolerated.
        if !tok.starts_with("--") && tok.len() > 2 && tok[1..].chars().all(tolerated_short) {
            continue;
        }
        let (flag, inline) = match tok.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            // A short flag with its value attached (-wdir): split after the first character.
            None if !tok.starts_with("--") && tok.chars().count() > 2 => {
                let split = tok.char_indices().nth(2).map_or(tok.len(), |(i, _)| i);
                (tok[..split].to_string(), Some(tok[split..].to_string()))
            }
            None => (tok.clone(), None),
        };
        let mut value = || -> Result<String, SettingsError> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            let v = opts.get(i).cloned().ok_or_else(|| SettingsError::MissingValue(flag.clone()))?;
            i += 1;
            Ok(v)
        };
        out.apply(&flag, &mut value, input)?;
    }
    Ok(out)
}

impl RunOptions {
    /// One option; `value` takes its value (inline or the next argument).
    fn apply(&mut self, flag: &str, value: &mut dyn FnMut() -> Result<String, SettingsError>, input: &ContainerTaskInput<'_>) -> Result<(), SettingsError> {
        let invalid = |v: &str| SettingsError::InvalidValue { option: flag.to_string(), value: v.to_string() };
        let host = &mut self.host;
        match flag {
            "--rm" => host.auto_remove = Some(true),
            "-d" | "--detach" | "-i" | "--interactive" | "-t" | "--tty" => {}
            "-w" | "--workdir" => self.workdir = Some(value()?),
            "--entrypoint" => {
                let ep = value()?;
                // Docker: an empty --entrypoint resets it to nothing.
                self.entrypoint = Some(if ep.is_empty() { vec![String::new()] } else { vec![ep] });
            }
            "-e" | "--env" => {
                let v = value()?;
                match v.split_once('=') {
                    Some((k, val)) => self.env.push((k.to_string(), val.to_string())),
                    // `-e NAME` passes the variable from the task's environment.
                    None => {
                        if let Some((_, val)) = input.env.iter().rev().find(|(k, _)| *k == v) {
                            self.env.push((v.clone(), val.clone()));
                        }
                    }
                }
            }
            "-v" | "--volume" => self.binds.push(value()?),
            "--mount" => self.mounts.push(parse_mount(&value()?)?),
            "-p" | "--publish" => {
                let v = value()?;
                self.publish(&v, input.node_ip).ok_or_else(|| invalid(&v))?;
            }
            "--name" => self.name = Some(value()?),
            "--network" | "--net" => host.network_mode = Some(value()?),
            "-u" | "--user" => self.user = Some(value()?),
            "-m" | "--memory" => host.memory = Some(parse_size(flag, &value()?)?),
            "--cpus" => {
                let v = value()?;
                let cpus: f64 = v.parse().map_err(|_| invalid(&v))?;
                host.nano_cpus = Some((cpus * 1e9) as i64);
            }
            "--shm-size" => host.shm_size = Some(parse_size(flag, &value()?)?),
            "--ipc" => host.ipc_mode = Some(value()?),
            "--privileged" => host.privileged = Some(true),
            "--cap-add" => host.cap_add.get_or_insert_with(Vec::new).push(value()?),
            "-h" | "--hostname" => self.hostname = Some(value()?),
            "-l" | "--label" => {
                let v = value()?;
                let (k, val) = v.split_once('=').unwrap_or((v.as_str(), ""));
                self.labels.insert(k.to_string(), val.to_string());
            }
            "--read-only" => host.readonly_rootfs = Some(true),
            "--tmpfs" => {
                let v = value()?;
                let (path, o) = v.split_once(':').unwrap_or((v.as_str(), ""));
                host.tmpfs.get_or_insert_with(HashMap::new).insert(path.to_string(), o.to_string());
            }
            "--ulimit" => {
                let v = value()?;
                host.ulimits.get_or_insert_with(Vec::new).push(parse_ulimit(&v).ok_or_else(|| invalid(&v))?);
            }
            "--init" => host.init = Some(true),
            other => return Err(SettingsError::UnsupportedOption(other.to_string())),
        }
        Ok(())
    }

    /// `-p [IP:][HOST:]CTR[/PROTO]`: published on the node's own address unless an IP is given.
    fn publish(&mut self, v: &str, node_ip: &str) -> Option<()> {
        let (spec, proto) = v.rsplit_once('/').map_or((v, "tcp"), |(s, p)| (s, p));
        let parts: Vec<&str> = spec.split(':').collect();
        let (ip, host_port, ctr) = match parts.as_slice() {
            [c] => (node_ip, "", *c),
            [h, c] => (node_ip, *h, *c),
            [ip, h, c] => (*ip, *h, *c),
            _ => return None,
        };
        if ctr.parse::<u16>().is_err() || (!host_port.is_empty() && host_port.parse::<u16>().is_err()) {
            return None;
        }
        let key = format!("{ctr}/{proto}");
        self.exposed.insert(key.clone(), HashMap::new());
        self.ports
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding { host_ip: Some(if ip.is_empty() { node_ip.to_string() } else { ip.to_string() }), host_port: Some(host_port.to_string()) });
        Some(())
    }
}

/// `--ulimit NAME=SOFT[:HARD]`.
fn parse_ulimit(v: &str) -> Option<ResourcesUlimits> {
    let (n, limits) = v.split_once('=')?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    Some(ResourcesUlimits { name: Some(n.to_string()), soft: Some(soft.parse().ok()?), hard: Some(hard.parse().ok()?) })
}

/// Which Batch paths are mounted (the whole node root, or the `containerHostBatchBindMounts`
/// sources), and the task environment without the variables of paths that are not (§1.8).
fn batch_mounts(input: &ContainerTaskInput<'_>, workdir_option: bool) -> Result<BatchMounts, SettingsError> {
    let root = input.node_root;
    let mut env: Vec<(String, String)> = input.env.to_vec();
    let Some(list) = input.bind_mounts else {
        return Ok(BatchMounts { binds: vec![format!("{0}:{0}", root.display())], env });
    };
    let mut binds = Vec::new();
    let mut keep: Vec<&str> = Vec::new();
    let mut task_mounted = false;
    for item in list.as_array().into_iter().flatten() {
        let source = item.get("source").and_then(|s| s.as_str()).unwrap_or_default();
        let ro = item.get("isReadOnly").and_then(serde_json::Value::as_bool).unwrap_or(false);
        let (path, vars): (std::path::PathBuf, &[&str]) = match source.to_ascii_lowercase().as_str() {
            "shared" => (root.join("shared"), &["AZ_BATCH_NODE_SHARED_DIR"]),
            "startup" => (root.join("startup"), &["AZ_BATCH_NODE_STARTUP_DIR", "AZ_BATCH_NODE_STARTUP_WORKING_DIR"]),
            "vfsmounts" => (root.join("fsmounts"), &["AZ_BATCH_NODE_MOUNTS_DIR"]),
            "applications" => (root.join("applications"), &[]),
            "task" => {
                task_mounted = true;
                (input.task_dir.to_path_buf(), &["AZ_BATCH_TASK_DIR", "AZ_BATCH_TASK_WORKING_DIR", "AZ_BATCH_CERTIFICATES_DIR"])
            }
            "jobprep" => (job_prep_dir(input), &["AZ_BATCH_JOB_PREP_DIR", "AZ_BATCH_JOB_PREP_WORKING_DIR"]),
            _ => return Err(SettingsError::BindMountSource(source.to_string())),
        };
        keep.extend_from_slice(vars);
        binds.push(format!("{0}:{0}{1}", path.display(), if ro { ":ro" } else { "" }));
    }
    if !task_mounted && input.working_directory.is_none_or(|w| !w.eq_ignore_ascii_case("containerImageDefault")) && !workdir_option {
        return Err(SettingsError::WorkingDirectoryNotMounted);
    }
    const PATH_VARS: [&str; 10] = [
        "AZ_BATCH_NODE_ROOT_DIR",
        "AZ_BATCH_NODE_SHARED_DIR",
        "AZ_BATCH_NODE_STARTUP_DIR",
        "AZ_BATCH_NODE_STARTUP_WORKING_DIR",
        "AZ_BATCH_NODE_MOUNTS_DIR",
        "AZ_BATCH_TASK_DIR",
        "AZ_BATCH_TASK_WORKING_DIR",
        "AZ_BATCH_CERTIFICATES_DIR",
        "AZ_BATCH_JOB_PREP_DIR",
        "AZ_BATCH_JOB_PREP_WORKING_DIR",
    ];
    env.retain(|(k, _)| !PATH_VARS.contains(&k.as_str()) || keep.contains(&k.as_str()));
    Ok(BatchMounts { binds, env })
}

/// The job preparation task's directory: `AZ_BATCH_JOB_PREP_DIR` of the task's environment,
/// else the default id's directory beside the task's.
fn job_prep_dir(input: &ContainerTaskInput<'_>) -> std::path::PathBuf {
    match input.env.iter().rev().find(|(k, _)| k == "AZ_BATCH_JOB_PREP_DIR") {
        Some((_, dir)) => std::path::PathBuf::from(dir),
        None => input.task_dir.parent().map(|p| p.join("jobpreparation")).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    struct Fixture {
        env: Vec<(String, String)>,
        root: PathBuf,
        task_dir: PathBuf,
        labels: Vec<(String, String)>,
    }

    fn fixture() -> Fixture {
        let root = PathBuf::from("/data/nodes/n1/batch/tasks");
        let task_dir = root.join("workitems/j/job-1/t");
        Fixture {
            env: vec![
                ("MY_VAR".into(), "x".into()),
                ("AZ_BATCH_NODE_ROOT_DIR".into(), root.display().to_string()),
                ("AZ_BATCH_NODE_SHARED_DIR".into(), root.join("shared").display().to_string()),
                ("AZ_BATCH_TASK_DIR".into(), task_dir.display().to_string()),
                ("AZ_BATCH_TASK_WORKING_DIR".into(), task_dir.join("wd").display().to_string()),
                ("AZ_BATCH_TASK_ID".into(), "t".into()),
            ],
            root,
            task_dir,
            labels: vec![("batch-emulator.task".into(), "t".into())],
        }
    }

    fn plan(f: &Fixture, cmd: &str, opts: Option<&str>, wd: Option<&str>, mounts: Option<&serde_json::Value>) -> Result<ContainerPlan, SettingsError> {
        plan_container(&ContainerTaskInput {
            image: "img:1",
            command_line: cmd,
            run_options: opts,
            working_directory: wd,
            bind_mounts: mounts,
            env: &f.env,
            node_root: &f.root,
            task_dir: &f.task_dir,
            node_ip: "127.0.1.7",
            labels: &f.labels,
            user: Some("1000:1000"),
        })
    }

    #[test]
    fn the_command_line_is_the_cmd_and_the_entrypoint_is_kept() {
        let f = fixture();
        let p = plan(&f, "python 'my script.py' --n 1", None, None, None).unwrap();
        assert_eq!(p.body.cmd, Some(vec!["python".into(), "my script.py".into(), "--n".into(), "1".into()]));
        assert_eq!(p.body.entrypoint, None, "the image ENTRYPOINT is kept");
        assert_eq!(p.body.working_dir.as_deref(), Some("/data/nodes/n1/batch/tasks/workitems/j/job-1/t/wd"));
        assert_eq!(p.body.host_config.as_ref().unwrap().binds, Some(vec!["/data/nodes/n1/batch/tasks:/data/nodes/n1/batch/tasks".to_string()]));
        let env = p.body.env.unwrap();
        assert!(env.contains(&"MY_VAR=x".to_string()) && env.contains(&"AZ_BATCH_TASK_ID=t".to_string()));
        assert_eq!(p.body.labels.unwrap()["batch-emulator.task"], "t");
        assert_eq!(p.body.image.as_deref(), Some("img:1"));
        assert_eq!(p.name, None);
        assert_eq!(p.body.user.as_deref(), Some("1000:1000"), "the task identity's user");
    }

    #[test]
    fn an_empty_command_line_keeps_the_image_cmd() {
        let p = plan(&fixture(), "", None, None, None).unwrap();
        assert_eq!(p.body.cmd, None);
    }

    #[test]
    fn entrypoint_and_workdir_options_and_image_default_workdir() {
        let f = fixture();
        let p = plan(&f, "-c 'echo hi'", Some("--rm --entrypoint /bin/sh --workdir /"), None, None).unwrap();
        assert_eq!(p.body.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(p.body.cmd, Some(vec!["-c".to_string(), "echo hi".to_string()]));
        assert_eq!(p.body.working_dir.as_deref(), Some("/"));
        assert_eq!(p.body.host_config.unwrap().auto_remove, Some(true));
        let p = plan(&f, "x", Some("-w=/app"), None, None).unwrap();
        assert_eq!(p.body.working_dir.as_deref(), Some("/app"));
        let p = plan(&f, "x", None, Some("containerImageDefault"), None).unwrap();
        assert_eq!(p.body.working_dir, None, "the image WORKDIR stays");
        // UNCONFIRMED: --workdir wins over containerImageDefault (§1.2).
        let p = plan(&f, "x", Some("-w /srv"), Some("containerImageDefault"), None).unwrap();
        assert_eq!(p.body.working_dir.as_deref(), Some("/srv"));
    }

    #[test]
    fn run_options_map_to_engine_fields() {
        let f = fixture();
        let opts = "-dit --name reef -e A=1 --env B='two words' -e MY_VAR -v /etc/ssl/certs:/etc/ssl/certs:ro --mount type=bind,source=/tmp,target=/host-tmp,readonly \
                    -p 8080:80 --publish 127.0.0.1:9000:9000/udp --network host -u 1000:1000 -m 512m --cpus 1.5 --shm-size 1g --ipc host --privileged \
                    --cap-add SYS_ADMIN --hostname worker -l team=batch --read-only --tmpfs /run:size=64m --ulimit nofile=1024:2048 --init";
        let p = plan(&f, "x", Some(opts), None, None).unwrap();
        assert_eq!(p.name.as_deref(), Some("reef"));
        let env = p.body.env.unwrap();
        for e in ["A=1", "B=two words", "MY_VAR=x"] {
            assert!(env.contains(&e.to_string()), "{e}");
        }
        let h = p.body.host_config.unwrap();
        assert_eq!(h.binds.as_ref().unwrap()[1], "/etc/ssl/certs:/etc/ssl/certs:ro");
        let m = &h.mounts.as_ref().unwrap()[0];
        assert_eq!((m.typ, m.source.as_deref(), m.target.as_deref(), m.read_only), (Some(MountTypeEnum::BIND), Some("/tmp"), Some("/host-tmp"), Some(true)));
        let ports = h.port_bindings.unwrap();
        assert_eq!(
            ports["80/tcp"],
            Some(vec![PortBinding { host_ip: Some("127.0.1.7".into()), host_port: Some("8080".into()) }]),
            "published on the node's own address"
        );
        assert_eq!(ports["9000/udp"].as_ref().unwrap()[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert!(p.body.exposed_ports.unwrap().contains_key("80/tcp"));
        assert_eq!(h.network_mode.as_deref(), Some("host"));
        assert_eq!(p.body.user.as_deref(), Some("1000:1000"));
        assert_eq!(h.memory, Some(512 << 20));
        assert_eq!(h.nano_cpus, Some(1_500_000_000));
        assert_eq!(h.shm_size, Some(1 << 30));
        assert_eq!(h.ipc_mode.as_deref(), Some("host"));
        assert_eq!(h.privileged, Some(true));
        assert_eq!(h.cap_add, Some(vec!["SYS_ADMIN".to_string()]));
        assert_eq!(p.body.hostname.as_deref(), Some("worker"));
        assert_eq!(p.body.labels.unwrap()["team"], "batch");
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(h.tmpfs.unwrap()["/run"], "size=64m");
        assert_eq!(h.ulimits.unwrap()[0], ResourcesUlimits { name: Some("nofile".into()), soft: Some(1024), hard: Some(2048) });
        assert_eq!(h.init, Some(true));
    }

    #[test]
    fn unsupported_and_malformed_options_are_errors_naming_them() {
        let f = fixture();
        assert_eq!(plan(&f, "x", Some("--gpus all"), None, None).unwrap_err(), SettingsError::UnsupportedOption("--gpus".into()));
        assert_eq!(plan(&f, "x", Some("--rm stray"), None, None).unwrap_err(), SettingsError::UnsupportedOption("stray".into()));
        assert_eq!(plan(&f, "x", Some("--name"), None, None).unwrap_err(), SettingsError::MissingValue("--name".into()));
        assert!(matches!(plan(&f, "x", Some("-p abc:80"), None, None).unwrap_err(), SettingsError::InvalidValue { .. }));
        assert!(matches!(plan(&f, "x", Some("-m lots"), None, None).unwrap_err(), SettingsError::InvalidValue { .. }));
        assert_eq!(plan(&f, "x", Some("--rm 'x"), None, None).unwrap_err(), SettingsError::Unsplittable);
        assert_eq!(plan(&f, "echo 'x", None, None, None).unwrap_err(), SettingsError::CommandLine);
    }

    #[test]
    fn bind_mount_selection_mounts_only_what_is_asked_and_drops_other_path_variables() {
        let f = fixture();
        let m = serde_json::json!([{"source": "Task", "isReadOnly": true}, {"source": "Shared"}]);
        let p = plan(&f, "x", None, None, Some(&m)).unwrap();
        assert_eq!(
            p.body.host_config.unwrap().binds.unwrap(),
            vec![
                "/data/nodes/n1/batch/tasks/workitems/j/job-1/t:/data/nodes/n1/batch/tasks/workitems/j/job-1/t:ro".to_string(),
                "/data/nodes/n1/batch/tasks/shared:/data/nodes/n1/batch/tasks/shared".to_string()
            ]
        );
        let env = p.body.env.unwrap();
        assert!(env.iter().any(|e| e.starts_with("AZ_BATCH_TASK_WORKING_DIR=")));
        assert!(env.iter().any(|e| e.starts_with("AZ_BATCH_NODE_SHARED_DIR=")));
        assert!(!env.iter().any(|e| e.starts_with("AZ_BATCH_NODE_ROOT_DIR=")), "the root is not mounted");
        assert!(env.contains(&"AZ_BATCH_TASK_ID=t".to_string()), "non-path variables stay");
        // An empty list mounts nothing; the task dir then needs containerImageDefault.
        let none = serde_json::json!([]);
        assert_eq!(plan(&f, "x", None, None, Some(&none)).unwrap_err(), SettingsError::WorkingDirectoryNotMounted);
        let p = plan(&f, "x", None, Some("containerImageDefault"), Some(&none)).unwrap();
        assert_eq!(p.body.host_config.unwrap().binds, None);
        assert!(matches!(plan(&f, "x", None, None, Some(&serde_json::json!([{"source": "Nope"}]))).unwrap_err(), SettingsError::BindMountSource(_)));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_run_options_never_panic(opts in "\\PC{0,60}", cmd in "\\PC{0,30}") {
            let f = fixture();
            let _ = plan(&f, &cmd, Some(&opts), None, None);
        }

        /// Huge option lists and values, and many flags: an answer, never a panic.
        #[test]
        fn huge_run_options_never_panic(
            flags in proptest::collection::vec(proptest::sample::select(vec!["-e", "-p", "-v", "--mount", "-w", "--ulimit", "--cpus", "-m", "--tmpfs", "-l", "--entrypoint"]), 0..400),
            value in "\\PC{0,2000}",
        ) {
            let opts = flags.iter().map(|f| format!("{f} '{}'", value.replace('\'', ""))).collect::<Vec<_>>().join(" ");
            let f = fixture();
            let _ = plan(&f, &value, Some(&opts), None, None);
        }
    }
}
