//! The local application package store (`--app-packages DIR`): applications and their package
//! versions are registered through the management plane, which an emulator has not, so they
//! are files: `DIR/<applicationId>/<version>.zip`, and optionally `DIR/<applicationId>/default`
//! (one line: the default version) and `DIR/<applicationId>/displayName` (one line). The store
//! is read when asked, so packages added while the emulator runs are seen at once.

use std::path::{Path, PathBuf};

/// One application and its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: String,
    pub display_name: Option<String>,
    /// Sorted.
    pub versions: Vec<String>,
    pub default_version: Option<String>,
}

/// A package reference resolved against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub application_id: String,
    pub version: String,
    pub zip: PathBuf,
}

fn first_line(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().and_then(|t| t.lines().next().map(|l| l.trim().to_string())).filter(|l| !l.is_empty())
}

/// The store's applications, sorted by id (none without a store).
pub fn list(dir: Option<&Path>) -> Vec<Application> {
    let Some(dir) = dir else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut apps: Vec<Application> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let id = e.file_name().to_string_lossy().into_owned();
            let mut versions: Vec<String> = std::fs::read_dir(e.path())
                .map(|vs| vs.flatten().filter_map(|v| v.file_name().to_string_lossy().strip_suffix(".zip").map(String::from)).collect())
                .unwrap_or_default();
            versions.sort();
            Application { display_name: first_line(&e.path().join("displayName")), default_version: first_line(&e.path().join("default")), versions, id }
        })
        .collect();
    apps.sort_by_key(|a| a.id.to_ascii_lowercase());
    apps
}

/// One application, its id matched without regard to case.
pub fn get(dir: Option<&Path>, id: &str) -> Option<Application> {
    list(dir).into_iter().find(|a| a.id.eq_ignore_ascii_case(id))
}

/// Resolves a reference: the application, and the version given or else its default.
pub fn resolve(dir: Option<&Path>, id: &str, version: Option<&str>) -> Result<Resolved, String> {
    let app = get(dir, id).ok_or_else(|| format!("The application {id} does not exist in this account"))?;
    let version = match version {
        Some(v) => app.versions.iter().find(|x| x.eq_ignore_ascii_case(v)).cloned().ok_or_else(|| format!("The application {} has no version {v}", app.id))?,
        None => app
            .default_version
            .clone()
            .filter(|d| app.versions.contains(d))
            .ok_or_else(|| format!("No version was given for the application {} and it has no default version", app.id))?,
    };
    let zip = dir.unwrap_or(Path::new("")).join(&app.id).join(format!("{version}.zip"));
    Ok(Resolved { application_id: app.id, version, zip })
}

/// The environment variable names of an installed package on Linux: `AZ_BATCH_APP_PACKAGE_`
/// then the application id and version with every other character than a letter or digit as
/// `_`, as given, upper-cased and lower-cased (the documented example is lower case,
/// `AZ_BATCH_APP_PACKAGE_agent_linux_x64_1_1_46_0`; agents since 1.8.2 also give the
/// case-preserving and upper-case forms); without the version too when the default version
/// was asked for.
pub fn variable_names(application_id: &str, version: &str, by_default: bool) -> Vec<String> {
    let clean = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>();
    let mut bases = vec![format!("{}_{}", clean(application_id), clean(version))];
    if by_default {
        bases.push(clean(application_id));
    }
    let mut names = Vec::new();
    for b in bases {
        for n in [b.clone(), b.to_ascii_uppercase(), b.to_ascii_lowercase()] {
            let name = format!("AZ_BATCH_APP_PACKAGE_{n}");
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_lists_resolves_and_names_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("Blender")).unwrap();
        for v in ["2.79", "3.0"] {
            std::fs::write(dir.path().join("Blender").join(format!("{v}.zip")), b"").unwrap();
        }
        std::fs::write(dir.path().join("Blender/default"), "3.0\n").unwrap();
        std::fs::create_dir_all(dir.path().join("nodefault")).unwrap();
        std::fs::write(dir.path().join("nodefault/1.zip"), b"").unwrap();
        let d = Some(dir.path());
        let apps = list(d);
        assert_eq!(apps.iter().map(|a| (a.id.as_str(), a.versions.len())).collect::<Vec<_>>(), [("Blender", 2), ("nodefault", 1)]);
        assert_eq!(resolve(d, "blender", None).unwrap().version, "3.0");
        assert_eq!(resolve(d, "BLENDER", Some("2.79")).unwrap().zip, dir.path().join("Blender/2.79.zip"));
        assert!(resolve(d, "nodefault", None).unwrap_err().contains("no default version"));
        assert!(resolve(d, "absent", None).is_err() && resolve(d, "Blender", Some("9")).is_err());
        assert!(list(None).is_empty());
        assert_eq!(
            variable_names("Agent-linux-x64", "1.1.46.0", true),
            [
                "AZ_BATCH_APP_PACKAGE_Agent_linux_x64_1_1_46_0",
                "AZ_BATCH_APP_PACKAGE_AGENT_LINUX_X64_1_1_46_0",
                "AZ_BATCH_APP_PACKAGE_agent_linux_x64_1_1_46_0",
                "AZ_BATCH_APP_PACKAGE_Agent_linux_x64",
                "AZ_BATCH_APP_PACKAGE_AGENT_LINUX_X64",
                "AZ_BATCH_APP_PACKAGE_agent_linux_x64",
            ]
        );
    }
}
