//! One reader of a process's counters in `/proc` (`stat` and `io`), for task statistics
//! (`agent::process`) and the resource metrics of autoscale (`agent::metrics`).

/// What `/proc/<pid>/stat` and `/proc/<pid>/io` say of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcStat {
    /// CPU time in clock ticks: the process's own (user, kernel) and its waited-for
    /// children's (user, kernel).
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
    /// `/proc/<pid>/io` (0 when it cannot be read: another user's process).
    pub read_ops: u64,
    pub write_ops: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// Reads a process's counters; `None` when it is gone.
pub fn read(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    parse(&stat, &io)
}

/// Parses `stat` (fields after the command name: state first, then utime, stime, cutime and
/// cstime as the 12th to 15th, rss the 22nd) and `io`.
fn parse(stat: &str, io: &str) -> Option<ProcStat> {
    let fields: Vec<u64> = stat.get(stat.rfind(')')? + 2..)?.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    let io_field = |name: &str| io.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse::<u64>().ok()).unwrap_or(0);
    Some(ProcStat {
        utime: field(10),
        stime: field(11),
        cutime: field(12),
        cstime: field(13),
        rss_pages: field(20),
        read_ops: io_field("syscr"),
        write_ops: io_field("syscw"),
        read_bytes: io_field("read_bytes"),
        write_bytes: io_field("write_bytes"),
    })
}

/// Clock ticks per second (`CLK_TCK`).
pub fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().filter(|t| *t > 0).unwrap_or(100) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 5 2 20 0 1 0 100 1000 250 rest";
        let io = "rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\n";
        let s = parse(stat, io).unwrap();
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime, s.rss_pages), (7, 3, 5, 2, 250));
        assert_eq!((s.read_ops, s.write_ops, s.read_bytes, s.write_bytes), (3, 4, 4096, 8192));
    }

    #[test]
    fn this_process_can_be_read() {
        let s = read(std::process::id()).expect("our own /proc entry");
        assert!(s.rss_pages > 0);
    }
}
