//! What the operation catalogue (`catalogue`) is used for: each operation's row, routing a
//! request line to its operation, and the README's coverage table. The tests at the bottom
//! check the catalogue against `fixtures/reference/batch-operations.json` row by row.

pub use super::catalogue::{Operation, OperationInfo, CATALOGUE};

impl Operation {
    /// The catalogue row of this operation.
    pub fn info(self) -> &'static OperationInfo {
        CATALOGUE.iter().find(|i| i.op == self).unwrap_or(&CATALOGUE[0])
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn is_implemented(self) -> bool {
        self.info().implemented
    }
}

/// The result of matching a request line against the catalogue.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// The operation and its path parameters, still percent-encoded, in template order.
    Found(Operation, Vec<String>),
    /// The path names a resource but not with this method.
    WrongMethod,
    NotFound,
}

/// Matches one raw (still percent-encoded) path segment against a template segment that may
/// hold literals around `{param}` parts (`certificates(thumbprintAlgorithm={a},thumbprint={t})`).
fn match_segment(template: &str, segment: &str, params: &mut Vec<String>) -> bool {
    let mut t = template;
    let mut s = segment;
    loop {
        match t.find('{') {
            None => return t.eq_ignore_ascii_case(s),
            Some(open) => {
                let (lit, rest) = t.split_at(open);
                // `get`: a multi-byte character may straddle the literal's length.
                match s.get(..lit.len()) {
                    Some(head) if head.eq_ignore_ascii_case(lit) => s = &s[lit.len()..],
                    _ => return false,
                }
                let Some(close) = rest.find('}') else {
                    return false;
                };
                t = &rest[close + 1..];
                // The parameter runs to the next literal (or the end of the segment).
                let end = match t.find('{') {
                    _ if t.is_empty() => s.len(),
                    Some(0) => return false,
                    Some(next) => match s.find(&t[..next]) {
                        Some(i) => i,
                        None => return false,
                    },
                    None => match s.rfind(t) {
                        Some(i) => i,
                        None => return false,
                    },
                };
                if end == 0 {
                    return false;
                }
                params.push(s[..end].to_string());
                s = &s[end..];
            }
        }
    }
}

/// Finds the operation for a method and raw path. Literal path parts match case-insensitively.
pub fn route(method: &str, raw_path: &str) -> RouteMatch {
    let segments: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
    let mut path_matched = false;
    for info in CATALOGUE {
        let tsegs: Vec<&str> = info.path.trim_start_matches('/').split('/').collect();
        if tsegs.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        if tsegs.iter().zip(&segments).all(|(t, s)| match_segment(t, s, &mut params)) {
            if info.method.eq_ignore_ascii_case(method) {
                return RouteMatch::Found(info.op, params);
            }
            path_matched = true;
        }
    }
    if path_matched {
        RouteMatch::WrongMethod
    } else {
        RouteMatch::NotFound
    }
}

/// The README's coverage table, generated from the catalogue.
pub fn coverage_markdown() -> String {
    let implemented = CATALOGUE.iter().filter(|i| i.implemented).count();
    let mut out = format!(
        "{implemented} of {} catalogued operations are emulated; the others answer 501 `NotImplemented` naming the operation.\n\n\
         | group | operation (azure-batch 15.x) | 14.x | method and path | emulated |\n|---|---|---|---|---|\n",
        CATALOGUE.len()
    );
    let mut rows: Vec<&OperationInfo> = CATALOGUE.iter().collect();
    rows.sort_by_key(|i| (i.group, i.path, i.method));
    for i in rows {
        out.push_str(&format!(
            "| {} | `{}` | {} | `{} {}` | {} |\n",
            i.group,
            i.name,
            if i.sdk14.is_empty() { "–".to_string() } else { format!("`{}`", i.sdk14) },
            i.method,
            i.path,
            if i.implemented { "yes" } else { "not yet (501)" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table is generated: run with `UPDATE_README=1` to rewrite it.
    #[test]
    fn readme_coverage_table_matches_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let (start, end) = ("<!-- coverage:start -->\n", "<!-- coverage:end -->");
        let a = readme.find(start).expect("coverage start marker") + start.len();
        let b = readme.find(end).expect("coverage end marker");
        let table = coverage_markdown();
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(path, format!("{}{}{}", &readme[..a], table, &readme[b..])).expect("write README");
        } else {
            assert_eq!(readme[a..b], table, "README coverage table is stale: run `UPDATE_README=1 cargo test -p batch-emulator readme_coverage`");
        }
    }

    #[test]
    fn every_row_of_the_reference_has_exactly_one_entry_and_route() {
        let json: serde_json::Value = serde_json::from_str(include_str!("../../../fixtures/reference/batch-operations.json")).unwrap();
        let rows = json["operations"].as_array().unwrap();
        assert_eq!(rows.len(), CATALOGUE.len());
        for row in rows {
            let method = row["method"].as_str().unwrap();
            let path = row["path"].as_str().unwrap();
            let matching: Vec<_> = CATALOGUE.iter().filter(|i| i.method == method && i.path == path).collect();
            assert_eq!(matching.len(), 1, "{method} {path}");
            let sample = path.replace("{", "x").replace("}", "");
            let sample = if path.contains("thumbprint=") {
                "/certificates(thumbprintAlgorithm=sha1,thumbprint=abc)".to_string() + path.split(')').nth(1).unwrap_or("")
            } else {
                sample
            };
            match route(method, &sample) {
                RouteMatch::Found(op, _) => assert_eq!(op, matching[0].op, "{method} {sample}"),
                other => panic!("{method} {sample}: {other:?}"),
            }
        }
    }

    proptest::proptest! {
        /// Any path, any method: an answer, never a panic.
        #[test]
        fn routing_never_panics(method in "[A-Z]{0,7}", path in "(/[\\PC]{0,30}){0,6}") {
            let _ = route(&method, &path);
        }
    }

    #[test]
    fn request_lines_from_the_rest_docs_route_to_their_operations() {
        let cases = [
            ("POST", "/pools", Operation::CreatePool, vec![]),
            ("GET", "/pools/mypool", Operation::GetPool, vec!["mypool"]),
            ("HEAD", "/pools/mypool", Operation::PoolExists, vec!["mypool"]),
            ("POST", "/jobs/j1/addtaskcollection", Operation::CreateTaskCollection, vec!["j1"]),
            ("GET", "/jobs/j1/tasks/t1/files/wd%2Fout.txt", Operation::DownloadTaskFile, vec!["j1", "t1", "wd%2Fout.txt"]),
            ("GET", "/pools/p/nodes/tvmps_1_d/files/startup%2Fstdout.txt", Operation::DownloadNodeFile, vec!["p", "tvmps_1_d", "startup%2Fstdout.txt"]),
            ("GET", "/certificates(thumbprintAlgorithm=sha1,thumbprint=0123abc)", Operation::GetCertificate, vec!["sha1", "0123abc"]),
            ("GET", "/jobs/j1/taskcounts", Operation::GetJobTaskCounts, vec!["j1"]),
            ("GET", "/nodecounts", Operation::ListPoolNodeCounts, vec![]),
        ];
        for (m, p, op, params) in cases {
            assert_eq!(route(m, p), RouteMatch::Found(op, params.into_iter().map(String::from).collect()), "{m} {p}");
        }
        assert_eq!(route("PUT", "/pools"), RouteMatch::WrongMethod);
        // A multi-byte character at a literal's boundary used to panic (byte slicing).
        assert_eq!(route("GET", "/certificates(thumbprintAlgorith\u{e9}=sha1,thumbprint=a)"), RouteMatch::NotFound);
        assert_eq!(route("GET", "/certificates(thumbprintAlgorithm\u{e9}sha1,thumbprint=a)"), RouteMatch::NotFound);
        assert_eq!(route("GET", "/nothing/here"), RouteMatch::NotFound);
        assert_eq!(route("GET", "/pools/p/extra/deep/path/x"), RouteMatch::NotFound);
    }
}
