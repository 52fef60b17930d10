//! Prometheus counters, rendered in the text exposition format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Request counts and latency sums by method, route template and status.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RequestKey, RequestTally>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RequestKey {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Default, Clone, Copy)]
struct RequestTally {
    count: u64,
    seconds: f64,
}

impl Metrics {
    /// Counts one answered request. `route` is the route template (`/v1/accounts/{id}`), never
    /// the concrete path, so ids and query strings do not reach the metrics.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let key = RequestKey {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tally = requests.entry(key).or_default();
        tally.count += 1;
        tally.seconds += elapsed.as_secs_f64();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut text = String::new();
        text.push_str("# HELP brokerd_http_requests_total HTTP requests answered.\n");
        text.push_str("# TYPE brokerd_http_requests_total counter\n");
        for (key, tally) in &requests {
            let _ = writeln!(
                text,
                "brokerd_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}",
                key.method, key.route, key.status, tally.count
            );
        }
        text.push_str(
            "# HELP brokerd_http_request_seconds_sum Time spent answering HTTP requests.\n",
        );
        text.push_str("# TYPE brokerd_http_request_seconds_sum counter\n");
        for (key, tally) in &requests {
            let _ = writeln!(
                text,
                "brokerd_http_request_seconds_sum{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}",
                key.method, key.route, key.status, tally.seconds
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_template_and_status() {
        let metrics = Metrics::default();
        metrics.record_request("GET", "/v1/accounts", 200, Duration::from_millis(2));
        metrics.record_request("GET", "/v1/accounts", 200, Duration::from_millis(3));
        metrics.record_request("GET", "/v1/accounts/{id}", 404, Duration::from_millis(1));
        let text = metrics.render();
        assert!(
            text.contains(
                "brokerd_http_requests_total{method=\"GET\",route=\"/v1/accounts\",status=\"200\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("route=\"/v1/accounts/{id}\",status=\"404\"} 1\n"),
            "{text}"
        );
    }
}
