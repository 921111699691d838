//! Reports: a table for people, JSON and JUnit XML for machines.

use crate::{Outcome, ScenarioResult};
use std::fmt::Write;

fn status(o: &Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed(_) => "FAILED",
        Outcome::NotYetEmulated(_) => "not yet emulated",
    }
}

fn detail(o: &Outcome) -> &str {
    match o {
        Outcome::Passed => "",
        Outcome::Failed(m) | Outcome::NotYetEmulated(m) => m,
    }
}

/// A readable table with the time of each scenario and a summary line.
pub fn table(results: &[ScenarioResult]) -> String {
    let mut out = String::new();
    let width = results.iter().map(|r| r.name.len()).max().unwrap_or(10);
    let _ = writeln!(out, "{:<width$}  {:<10}  {:>8}  result", "scenario", "area", "time");
    for r in results {
        let mut line = format!("{:<width$}  {:<10}  {:>7.2}s  {}", r.name, r.area, r.duration.as_secs_f64(), status(&r.outcome));
        let d = detail(&r.outcome);
        if !d.is_empty() {
            let _ = write!(line, ": {}", d.lines().next().unwrap_or(""));
        }
        let _ = writeln!(out, "{line}");
    }
    let (p, f, n) = counts(results);
    let _ = writeln!(out, "\n{} scenarios: {p} passed, {f} failed, {n} not yet emulated", results.len());
    out
}

/// (passed, failed, not yet emulated)
pub fn counts(results: &[ScenarioResult]) -> (usize, usize, usize) {
    let p = results.iter().filter(|r| r.outcome == Outcome::Passed).count();
    let f = results.iter().filter(|r| matches!(r.outcome, Outcome::Failed(_))).count();
    (p, f, results.len() - p - f)
}

/// The results as JSON.
pub fn json(target: &str, results: &[ScenarioResult]) -> serde_json::Value {
    let (p, f, n) = counts(results);
    serde_json::json!({
        "target": target,
        "passed": p, "failed": f, "notYetEmulated": n,
        "scenarios": results.iter().map(|r| serde_json::json!({
            "name": r.name, "area": r.area, "source": r.source, "status": status(&r.outcome).to_lowercase(),
            "detail": detail(&r.outcome), "seconds": r.duration.as_secs_f64(),
        })).collect::<Vec<_>>(),
    })
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// JUnit XML: a failure per failed scenario; not-yet-emulated ones are `skipped` with the reason
/// (never counted as passed).
pub fn junit(target: &str, results: &[ScenarioResult]) -> String {
    let (_, f, n) = counts(results);
    let total: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"batch-conformance.{}\" tests=\"{}\" failures=\"{f}\" skipped=\"{n}\" time=\"{total:.3}\">\n",
        xml(target),
        results.len()
    );
    for r in results {
        let _ = write!(out, "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"", xml(&r.area), xml(&r.name), r.duration.as_secs_f64());
        match &r.outcome {
            Outcome::Passed => out.push_str("/>\n"),
            Outcome::Failed(m) => {
                let _ = write!(
                    out,
                    ">\n    <failure message=\"{}\">{}\nsource: {}</failure>\n  </testcase>\n",
                    xml(m.lines().next().unwrap_or("")),
                    xml(m),
                    xml(&r.source)
                );
            }
            Outcome::NotYetEmulated(m) => {
                let _ = write!(out, ">\n    <skipped message=\"not yet emulated: {}\"/>\n  </testcase>\n", xml(m.lines().next().unwrap_or("")));
            }
        }
    }
    out.push_str("</testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn r(name: &str, outcome: Outcome) -> ScenarioResult {
        ScenarioResult { name: name.into(), area: "tasks".into(), source: "doc".into(), outcome, duration: Duration::from_millis(1500) }
    }

    #[test]
    fn junit_marks_failures_and_not_yet_emulated_as_skipped() {
        let results = vec![r("a", Outcome::Passed), r("b", Outcome::Failed("boom <x>".into())), r("c", Outcome::NotYetEmulated("501".into()))];
        let x = junit("emulator", &results);
        assert!(x.contains("tests=\"3\" failures=\"1\" skipped=\"1\""), "{x}");
        assert!(x.contains("<failure message=\"boom &lt;x&gt;\">"));
        assert!(x.contains("<skipped message=\"not yet emulated: 501\"/>"));
        let t = table(&results);
        assert!(t.contains("3 scenarios: 1 passed, 1 failed, 1 not yet emulated"), "{t}");
        assert!(t.contains("1.50s"));
        assert_eq!(json("emulator", &results)["failed"], 1);
    }
}
