//! Prometheus counters, rendered in the text exposition format at `/metrics`: requests,
//! orders by outcome, run durations, and (at scrape time) accounts due for the run by status.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use broker_worker::UserSummary;

/// Request counts and latency sums by method, route template and status; orders and runs.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RequestKey, RequestTally>>,
    runs: Mutex<RunTally>,
}

#[derive(Debug, Default, Clone)]
struct RunTally {
    orders: UserSummary,
    finished: u64,
    seconds: f64,
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

    /// Counts a finished run: its duration (when this process started it) and its orders by
    /// outcome, summed over users.
    pub fn record_run<'a>(
        &self,
        took: Option<Duration>,
        users: impl IntoIterator<Item = &'a UserSummary>,
    ) {
        let mut runs = self
            .runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        runs.finished += 1;
        runs.seconds += took.map_or(0.0, |took| took.as_secs_f64());
        for user in users {
            let orders = &mut runs.orders;
            orders.placed += user.placed;
            orders.rejected += user.rejected;
            orders.refused += user.refused;
            orders.needs_login += user.needs_login;
            orders.failed += user.failed;
            orders.unknown += user.unknown;
        }
    }

    /// The text exposition format; `sessions` counts the accounts due for the run by status.
    pub fn render_with_sessions(&self, sessions: &BTreeMap<String, usize>) -> String {
        let mut text = self.render();
        let runs = self
            .runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        text.push_str("# HELP brokerd_orders_total Order intents executed by outcome.\n");
        text.push_str("# TYPE brokerd_orders_total counter\n");
        let orders = &runs.orders;
        for (outcome, count) in [
            ("placed", orders.placed),
            ("rejected", orders.rejected),
            ("refused", orders.refused),
            ("needs_login", orders.needs_login),
            ("failed", orders.failed),
            ("unknown", orders.unknown),
        ] {
            let _ = writeln!(
                text,
                "brokerd_orders_total{{outcome=\"{outcome}\"}} {count}"
            );
        }
        text.push_str(
            "# HELP brokerd_run_seconds Time runs took, from start to the last reconciliation.\n",
        );
        text.push_str("# TYPE brokerd_run_seconds summary\n");
        let _ = writeln!(text, "brokerd_run_seconds_sum {}", runs.seconds);
        let _ = writeln!(text, "brokerd_run_seconds_count {}", runs.finished);
        text.push_str(
            "# HELP brokerd_sessions Accounts due for the run (auto-execute on), by status.\n",
        );
        text.push_str("# TYPE brokerd_sessions gauge\n");
        for (status, count) in sessions {
            let _ = writeln!(text, "brokerd_sessions{{status=\"{status}\"}} {count}");
        }
        text
    }

    /// The request counters in the text exposition format.
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

    #[test]
    fn runs_add_their_orders_by_outcome_and_their_durations() {
        let metrics = Metrics::default();
        let alice = UserSummary {
            placed: 2,
            needs_login: 1,
            ..UserSummary::default()
        };
        let bob = UserSummary {
            placed: 1,
            refused: 1,
            ..UserSummary::default()
        };
        metrics.record_run(Some(Duration::from_millis(1500)), [&alice, &bob]);
        let sessions = BTreeMap::from([("active".to_owned(), 3), ("needs_login".to_owned(), 1)]);
        let text = metrics.render_with_sessions(&sessions);
        for line in [
            "brokerd_orders_total{outcome=\"placed\"} 3\n",
            "brokerd_orders_total{outcome=\"refused\"} 1\n",
            "brokerd_orders_total{outcome=\"needs_login\"} 1\n",
            "brokerd_run_seconds_sum 1.5\n",
            "brokerd_run_seconds_count 1\n",
            "brokerd_sessions{status=\"active\"} 3\n",
        ] {
            assert!(text.contains(line), "{line} missing from {text}");
        }
    }
}
