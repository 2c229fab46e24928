//! CPU seconds used so far, from `/proc` (Linux; 0 elsewhere). The benches report CPU time
//! beside wall time because a shared build box's wall time says as much about the neighbours as
//! about us.

/// CPU seconds (user + system) the calling thread has used.
pub fn thread_cpu_s() -> f64 {
    stat_cpu_s("/proc/thread-self/stat")
}

/// CPU seconds (user + system) the whole process has used, all threads.
pub fn process_cpu_s() -> f64 {
    stat_cpu_s("/proc/self/stat")
}

fn stat_cpu_s(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; in clock
    // ticks of 1/100 s on every Linux this runs on.
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}
