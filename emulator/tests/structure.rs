//! The workspace's shape, checked: no import circle between the files of any crate, no file of
//! the domain crate above 800 lines, a domain free of I/O, and a REST edge that never reaches
//! into the node agent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 5] = ["client", "emulator", "emulator/model", "conformance", "bench"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file defines, as its path below `src` (`account/mod.rs` → `["account"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests`.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The paths written after each `prefix` (`crate::a::b`, `super::c`), as segments.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let boundary = rest[..i].chars().last().is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        rest = &rest[i + prefix.len()..];
        if !boundary {
            continue;
        }
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        out.push(rest[..end].split("::").filter(|s| !s.is_empty()).map(String::from).collect());
    }
    out
}

/// The longest prefix of `path` that is a module of the crate.
fn resolve(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains(p))
}

/// Import edges between the modules (files) of one crate. The crate root is left out: it only
/// declares and re-exports.
fn import_graph(krate: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let src = krate.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let me = module_of(&src, file);
        let text = code(file);
        let mut edges = BTreeSet::new();
        for p in paths_after(&text, "crate::") {
            edges.extend(resolve(&modules, &p));
        }
        let parent = me[..me.len().saturating_sub(1)].to_vec();
        for p in paths_after(&text, "super::") {
            let full: Vec<String> = parent.iter().cloned().chain(p).collect();
            edges.insert(resolve(&modules, &full).unwrap_or_else(|| parent.clone()));
        }
        edges.retain(|e| *e != me && !e.is_empty());
        graph.insert(me, edges);
    }
    graph
}

/// A circle in the graph, if there is one.
fn find_circle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<Vec<String>>> {
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        done: &mut BTreeSet<Vec<String>>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            return Some(stack[i..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut done, &mut Vec::new()))
}

#[test]
fn no_crate_has_an_import_circle() {
    for krate in CRATES {
        let graph = import_graph(&workspace().join(krate));
        assert!(!graph.is_empty(), "{krate}: the walk found its files");
        if let Some(circle) = find_circle(&graph) {
            panic!("{krate}: import circle {:?}", circle.iter().map(|m| m.join("::")).collect::<Vec<_>>());
        }
    }
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let m = |s: &str| vec![s.to_string()];
    let graph: BTreeMap<_, BTreeSet<_>> = [(m("a"), [m("b")].into()), (m("b"), [m("c")].into()), (m("c"), [m("a")].into()), (m("d"), [m("a")].into())].into();
    assert_eq!(find_circle(&graph).map(|c| c.len()), Some(3));
    let graph: BTreeMap<_, BTreeSet<_>> = [(m("a"), [m("b")].into()), (m("b"), BTreeSet::new())].into();
    assert_eq!(find_circle(&graph), None);
}

#[test]
fn no_file_of_the_domain_crate_is_above_800_lines() {
    let mut files = Vec::new();
    rust_files(&workspace().join("emulator/model/src"), &mut files);
    for f in files {
        let lines = std::fs::read_to_string(&f).unwrap().lines().count();
        assert!(lines <= 800, "{} has {lines} lines", f.display());
    }
}

#[test]
fn the_rest_edge_never_imports_the_node_agent() {
    let graph = import_graph(&workspace().join("emulator"));
    for (module, edges) in &graph {
        if module.first().is_some_and(|m| m == "api") {
            assert!(!edges.iter().any(|e| e.first().is_some_and(|m| m == "agent")), "{} imports the node agent: {edges:?}", module.join("::"));
        }
    }
}

#[test]
fn the_domain_crate_stays_free_of_io() {
    let mut files = Vec::new();
    rust_files(&workspace().join("emulator/model/src"), &mut files);
    assert!(files.len() > 10, "the walk found the domain's files");
    for path in files {
        // Unit tests included: they run in the domain crate too.
        let text: String = std::fs::read_to_string(&path).unwrap().lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        for banned in ["std::fs", "std::process", "std::net", "tokio", "axum", "bollard", "std::env"] {
            assert!(!text.contains(&format!("use {banned}")) && !text.contains(&format!("{banned}::")), "{} uses {banned}", path.display());
        }
    }
}
