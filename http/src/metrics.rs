//! Prometheus text exposition, written by hand (a few counters and histograms do not need a
//! metrics crate): requests and their latency by route, appends and events per append, appends
//! in flight (the writer's queue as seen from the server), and gauges sampled at scrape time
//! (log head, projection lag) supplied by the caller.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const LATENCY_BUCKETS_S: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Upper bounds of the events-per-append histogram.
const SIZE_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.buckets.len() != bounds.len() {
            self.buckets = vec![0; bounds.len()];
        }
        for (i, b) in bounds.iter().enumerate() {
            if v <= *b {
                self.buckets[i] += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in bounds.iter().enumerate() {
            let n = self.buckets.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Request key: method, matched route, status code.
type RouteKey = (String, String, u16);

/// All metrics of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RouteKey, u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    appends: AtomicU64,
    appended_events: AtomicU64,
    append_failures: AtomicU64,
    appends_in_flight: AtomicU64,
    append_latency: Mutex<Histogram>,
    events_per_append: Mutex<Histogram>,
}

/// Values sampled at scrape time by the server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub log_head_seq: u64,
    pub projection_seq: u64,
    pub log_failed: bool,
    pub shutting_down: bool,
    pub sse_streams: u64,
    /// The log writer's own counters.
    pub writer: Option<motcua_engine::log::WriterStats>,
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            m.entry((method.to_owned(), route.to_owned()))
                .or_default()
                .observe(&LATENCY_BUCKETS_S, elapsed.as_secs_f64());
        }
    }

    /// Marks an append as submitted to the writer; the guard records its outcome.
    pub fn append_started(&self) -> AppendTimer<'_> {
        self.appends_in_flight.fetch_add(1, Ordering::Relaxed);
        AppendTimer {
            metrics: self,
            start: std::time::Instant::now(),
            done: false,
        }
    }

    /// Prometheus text format 0.0.4.
    pub fn render(&self, g: Gauges) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP motcua_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE motcua_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "motcua_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP motcua_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE motcua_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for ((method, route), h) in m.iter() {
                let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
                h.render(
                    &mut out,
                    "motcua_http_request_duration_seconds",
                    &labels,
                    &LATENCY_BUCKETS_S,
                );
            }
        }
        counter(
            &mut out,
            "motcua_appends_total",
            "Appends acknowledged by the log.",
            self.appends.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "motcua_appended_events_total",
            "Events acknowledged by the log.",
            self.appended_events.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "motcua_append_failures_total",
            "Appends refused or failed.",
            self.append_failures.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "motcua_appends_in_flight",
            "Appends submitted to the writer and not yet acknowledged (writer queue depth as seen by the server).",
            self.appends_in_flight.load(Ordering::Relaxed),
        );
        out.push_str("# HELP motcua_append_duration_seconds Time from submit to durable acknowledgement (includes the group-commit fsync).\n");
        out.push_str("# TYPE motcua_append_duration_seconds histogram\n");
        if let Ok(h) = self.append_latency.lock() {
            h.render(
                &mut out,
                "motcua_append_duration_seconds",
                "",
                &LATENCY_BUCKETS_S,
            );
        }
        out.push_str("# HELP motcua_events_per_append Events per acknowledged append.\n");
        out.push_str("# TYPE motcua_events_per_append histogram\n");
        if let Ok(h) = self.events_per_append.lock() {
            h.render(&mut out, "motcua_events_per_append", "", &SIZE_BUCKETS);
        }
        gauge(
            &mut out,
            "motcua_log_head_seq",
            "Durable head of the event log.",
            g.log_head_seq,
        );
        gauge(
            &mut out,
            "motcua_projection_seq",
            "Last log seq folded into the read models.",
            g.projection_seq,
        );
        gauge(
            &mut out,
            "motcua_projection_lag_events",
            "Events the read models are behind the log.",
            g.log_head_seq.saturating_sub(g.projection_seq),
        );
        gauge(
            &mut out,
            "motcua_log_failed",
            "1 when the writer is fail-stopped.",
            u64::from(g.log_failed),
        );
        gauge(
            &mut out,
            "motcua_shutting_down",
            "1 while the server drains.",
            u64::from(g.shutting_down),
        );
        gauge(
            &mut out,
            "motcua_sse_streams",
            "Open event streams.",
            g.sse_streams,
        );
        if let Some(w) = g.writer {
            counter(
                &mut out,
                "motcua_log_batches_total",
                "Group-commit batches written by the log writer.",
                w.batches,
            );
            counter(
                &mut out,
                "motcua_log_events_total",
                "Events written by the log writer.",
                w.events,
            );
            counter(
                &mut out,
                "motcua_log_flushes_total",
                "Durable flushes (sled flush + fdatasync).",
                w.flushes,
            );
            let _ = writeln!(
                out,
                "# HELP motcua_log_flush_seconds_total Time spent in durable flushes.\n# TYPE motcua_log_flush_seconds_total counter\nmotcua_log_flush_seconds_total {}",
                w.flush_us as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "# HELP motcua_log_commit_seconds_total Time spent in sled batch commits.\n# TYPE motcua_log_commit_seconds_total counter\nmotcua_log_commit_seconds_total {}",
                w.commit_us as f64 / 1e6
            );
            let avg_batch = if w.batches > 0 {
                w.events as f64 / w.batches as f64
            } else {
                0.0
            };
            let avg_flush_ms = if w.flushes > 0 {
                w.flush_us as f64 / w.flushes as f64 / 1000.0
            } else {
                0.0
            };
            let _ = writeln!(out, "# HELP motcua_log_avg_batch_events Mean events per group-commit batch.\n# TYPE motcua_log_avg_batch_events gauge\nmotcua_log_avg_batch_events {avg_batch}");
            let _ = writeln!(out, "# HELP motcua_log_avg_fsync_ms Mean durable flush latency.\n# TYPE motcua_log_avg_fsync_ms gauge\nmotcua_log_avg_fsync_ms {avg_flush_ms}");
        }
        out
    }
}

/// Records one append's outcome when finished (or as a failure when dropped unfinished).
pub struct AppendTimer<'a> {
    metrics: &'a Metrics,
    start: std::time::Instant,
    done: bool,
}

impl AppendTimer<'_> {
    pub fn succeeded(mut self, events: u64) {
        self.done = true;
        let m = self.metrics;
        m.appends.fetch_add(1, Ordering::Relaxed);
        m.appended_events.fetch_add(events, Ordering::Relaxed);
        if let Ok(mut h) = m.append_latency.lock() {
            h.observe(&LATENCY_BUCKETS_S, self.start.elapsed().as_secs_f64());
        }
        if let Ok(mut h) = m.events_per_append.lock() {
            h.observe(&SIZE_BUCKETS, events as f64);
        }
    }
}

impl Drop for AppendTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .appends_in_flight
            .fetch_sub(1, Ordering::Relaxed);
        if !self.done {
            self.metrics.append_failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
    );
}

fn gauge(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.record_request("GET", "/healthz", 200, Duration::from_millis(3));
        m.append_started().succeeded(2);
        drop(m.append_started());
        let text = m.render(Gauges {
            log_head_seq: 10,
            projection_seq: 7,
            ..Gauges::default()
        });
        assert!(text.contains(
            "motcua_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ));
        assert!(text.contains("motcua_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.005\"} 1"));
        assert!(text.contains("motcua_appends_total 1\n"));
        assert!(text.contains("motcua_append_failures_total 1\n"));
        assert!(text.contains("motcua_appends_in_flight 0\n"));
        assert!(text.contains("motcua_projection_lag_events 3\n"));
    }
}
