//! `batch-conformance`: run the scenarios against batch-emulator or a real Batch account.

use batch_client::Credentials;
use batch_conformance::{report, run, scenarios, PoolProfile, Target, TargetKind};
use clap::{Parser, ValueEnum};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Which {
    Emulator,
    Azure,
}

/// Runs the Batch conformance scenarios against the emulator or a real account.
#[derive(Debug, Parser)]
#[command(name = "batch-conformance", version)]
struct Args {
    /// Where to run: `emulator` (started here on a free port unless --url is given) or `azure`
    /// (a real account from BATCH_ACCOUNT_URL, BATCH_ACCOUNT_NAME/BATCH_ACCOUNT_KEY or
    /// BATCH_ACCESS_TOKEN).
    #[arg(long, value_enum, default_value = "emulator")]
    target: Which,
    /// A running emulator to use instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// The emulator binary to start (default: `batch-emulator` beside this binary).
    #[arg(long)]
    emulator_bin: Option<PathBuf>,
    /// Only scenarios whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// List the scenarios and their sources, and exit.
    #[arg(long)]
    list: bool,
    /// Write JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The linked storage account, as a storage connection string, for the storage scenarios
    /// (an emulator started here gets it as `--auto-storage`). On Azure, the account's own
    /// linked storage.
    #[arg(long, env = "BATCH_CONFORMANCE_STORAGE")]
    storage: Option<String>,
}

struct Started {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

fn start_emulator(bin: PathBuf, storage: Option<&str>) -> Result<(String, String, String, Started), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = dir.path().join("app-packages");
    batch_conformance::write_app_package_store(&store).map_err(|e| format!("the conformance application package: {e}"))?;
    let mut child = Command::new(&bin)
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--app-packages")
        .arg(&store)
        .args(storage.map(|s| vec!["--auto-storage", s]).unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("batch-emulator ready:") => break l,
            Some(Ok(_)) => continue,
            _ => return Err("the emulator exited before it was ready".into()),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let field = |n: &str| ready.split_whitespace().find_map(|w| w.strip_prefix(&format!("{n}="))).unwrap_or_default().to_string();
    Ok((field("url"), field("account"), field("key"), Started { child, _dir: dir }))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if args.list {
        for s in scenarios::all() {
            println!("{:<55} {:<11} {}", s.name, s.area, s.source);
        }
        return std::process::ExitCode::SUCCESS;
    }
    let mut _started = None;
    let target = match args.target {
        Which::Azure => match Target::azure_from(|k| std::env::var(k).ok()) {
            Ok(t) => Target { storage: args.storage.clone().or(t.storage.clone()), ..t },
            Err(msg) => {
                eprintln!("batch-conformance: {msg}");
                return std::process::ExitCode::from(2);
            }
        },
        Which::Emulator => {
            let (url, credentials) = match args.url {
                Some(u) => (
                    u,
                    Credentials::SharedKey {
                        account: "devbatchaccount1".into(),
                        key: "YmF0Y2gtZW11bGF0b3ItZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2UtaW4tcHJvZHVjdGlvbg==".into(),
                    },
                ),
                None => {
                    let bin = args.emulator_bin.unwrap_or_else(|| std::env::current_exe().unwrap_or_default().with_file_name("batch-emulator"));
                    match start_emulator(bin, args.storage.as_deref()) {
                        Ok((url, account, key, s)) => {
                            _started = Some(s);
                            (url, Credentials::SharedKey { account, key })
                        }
                        Err(e) => {
                            eprintln!("batch-conformance: {e}");
                            return std::process::ExitCode::from(2);
                        }
                    }
                }
            };
            // An emulator started here has the conformance application (a running one given by
            // --url is assumed to have been started the same way).
            let application = Some((batch_conformance::APP_PACKAGE_ID.to_string(), batch_conformance::APP_PACKAGE_VERSION.to_string()));
            Target { kind: TargetKind::Emulator, url, credentials, profile: PoolProfile::emulator(), storage: args.storage.clone(), application }
        }
    };
    let name = match target.kind {
        TargetKind::Emulator => "emulator",
        TargetKind::Azure => "azure",
    };
    let results = run(&target, args.filter.as_deref()).await;
    print!("{}", report::table(&results));
    if let Some(p) = args.junit {
        if let Err(e) = std::fs::write(&p, report::junit(name, &results)) {
            eprintln!("batch-conformance: cannot write {}: {e}", p.display());
        }
    }
    if let Some(p) = args.json {
        if let Err(e) = std::fs::write(&p, report::json(name, &results).to_string()) {
            eprintln!("batch-conformance: cannot write {}: {e}", p.display());
        }
    }
    let (_, failed, _) = report::counts(&results);
    if failed > 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    }
}
