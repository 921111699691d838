//! What each node uses, for the resource metrics of autoscale formulas (`$CPUPercent`,
//! `$MemoryBytes`, `$DiskReadBytes`…): a node's processes are those whose environment names
//! it (`AZ_BATCH_NODE_ID`, which every task process and container of the node has, and their
//! children inherit); their CPU time and I/O since the previous sample are read from `/proc`,
//! their resident memory now, and the node's directory tree is measured (bounded).
//! UNCONFIRMED: network traffic of a node's processes cannot be told apart on one machine
//! (they share its network), so it is 0; a container's processes are seen when the emulator
//! may read them (running as root, or rootless Docker under the same user).

use batch_model::stats::NodeMetrics;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// The most directory entries counted for `$DiskBytes` per node and sample.
const MAX_DISK_ENTRIES: usize = 20_000;

/// Per process: CPU ticks and I/O counters at the previous sample.
#[derive(Clone, Copy, Default)]
struct ProcCounters {
    ticks: u64,
    read_bytes: u64,
    write_bytes: u64,
    read_ops: u64,
    write_ops: u64,
}

/// Per node: when it was last sampled and what each of its processes had used by then.
struct NodePrevious {
    at: Instant,
    procs: HashMap<u32, ProcCounters>,
}

static PREVIOUS: std::sync::LazyLock<Mutex<HashMap<String, NodePrevious>>> = std::sync::LazyLock::new(Default::default);

fn counters(pid: u32) -> Option<(ProcCounters, u64)> {
    let s = super::procfs::read(pid)?;
    // utime, stime (children are processes of the node in their own right); rss in pages.
    let c = ProcCounters { ticks: s.utime + s.stime, read_bytes: s.read_bytes, write_bytes: s.write_bytes, read_ops: s.read_ops, write_ops: s.write_ops };
    Some((c, s.rss_pages))
}

/// The processes whose environment names one of `nodes`, by node.
fn processes_of(nodes: &[String]) -> HashMap<String, Vec<u32>> {
    let mut out: HashMap<String, Vec<u32>> = HashMap::new();
    let needles: Vec<(String, Vec<u8>)> = nodes.iter().map(|n| (n.clone(), format!("AZ_BATCH_NODE_ID={n}").into_bytes())).collect();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        for (node, needle) in &needles {
            if environ.split(|b| *b == 0).any(|var| var == needle.as_slice()) {
                out.entry(node.clone()).or_default().push(pid);
                break;
            }
        }
    }
    out
}

/// Bytes under `dir`, counting at most [`MAX_DISK_ENTRIES`] entries.
fn tree_bytes(dir: &Path) -> u64 {
    let (mut total, mut seen, mut stack) = (0u64, 0usize, vec![dir.to_path_buf()]);
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            seen += 1;
            if seen > MAX_DISK_ENTRIES {
                return total;
            }
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// Measures each node (in the order given) since its previous sample; a node sampled for the
/// first time reports what its processes used so far over one sample period.
pub fn sample(nodes: &[(String, std::path::PathBuf)], cores: u32) -> Vec<NodeMetrics> {
    let ids: Vec<String> = nodes.iter().map(|(n, _)| n.clone()).collect();
    let procs = processes_of(&ids);
    let ticks_per_sec = super::procfs::ticks_per_second() as f64;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().filter(|p| *p > 0).unwrap_or(4096) as f64;
    let now = Instant::now();
    let mut previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::with_capacity(nodes.len());
    for (node, dir) in nodes {
        let prev = previous.remove(node);
        let elapsed = prev.as_ref().map_or(batch_model::autoscale::SAMPLE_PERIOD.as_seconds_f64(), |p| now.duration_since(p.at).as_secs_f64()).max(0.001);
        let mut m = NodeMetrics { disk_bytes: tree_bytes(dir) as f64, ..Default::default() };
        let mut current = HashMap::new();
        let mut cpu_ticks = 0u64;
        for pid in procs.get(node).into_iter().flatten() {
            let Some((c, rss)) = counters(*pid) else { continue };
            let before = prev.as_ref().and_then(|p| p.procs.get(pid)).copied().unwrap_or_default();
            cpu_ticks += c.ticks.saturating_sub(before.ticks);
            m.disk_read_bytes += c.read_bytes.saturating_sub(before.read_bytes) as f64;
            m.disk_write_bytes += c.write_bytes.saturating_sub(before.write_bytes) as f64;
            m.disk_read_ops += c.read_ops.saturating_sub(before.read_ops) as f64;
            m.disk_write_ops += c.write_ops.saturating_sub(before.write_ops) as f64;
            m.memory_bytes += rss as f64 * page;
            current.insert(*pid, c);
        }
        m.cpu_seconds = cpu_ticks as f64 / ticks_per_sec;
        m.cpu_percent = (m.cpu_seconds / (elapsed * f64::from(cores.max(1))) * 100.0).min(100.0);
        previous.insert(node.clone(), NodePrevious { at: now, procs: current });
        out.push(m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_process_of_a_node_shows_as_its_cpu_and_memory() {
        let node = format!("tvmps_metrics_test_{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![0u8; 5000]).unwrap();
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "i=0; while [ $i -lt 2000000 ]; do i=$((i+1)); done"])
            .env("AZ_BATCH_NODE_ID", &node)
            .spawn()
            .unwrap();
        let nodes = vec![(node.clone(), dir.path().to_path_buf())];
        let _ = sample(&nodes, 1);
        std::thread::sleep(std::time::Duration::from_millis(700));
        let m = sample(&nodes, 1);
        let _ = child.kill();
        let _ = child.wait();
        assert!(m[0].cpu_percent > 20.0, "{:?}", m[0]);
        assert!(m[0].memory_bytes > 0.0, "{:?}", m[0]);
        assert!(m[0].disk_bytes >= 5000.0, "{:?}", m[0]);
        // A node without processes uses nothing.
        let idle = sample(&[("tvmps_no_such_node".into(), dir.path().to_path_buf())], 1);
        assert_eq!((idle[0].cpu_percent, idle[0].memory_bytes), (0.0, 0.0));
    }
}
