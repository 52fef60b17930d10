//! Faults a simulator injects into the next request to an endpoint.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// A fault injected into one request. Each simulator answers it in its broker's own way (the
/// shape of a rate-limit page, of a session-expired error, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer normally after this delay.
    Latency(Duration),
    /// Process the request, then answer this HTTP 5xx status with a gateway error page (the
    /// worst case for order calls: the order exists but the client cannot know).
    ServerError(u16),
    /// Process the request, then never answer (until the simulator stops): the client times
    /// out with the order placed.
    Hang,
    /// Refuse with the broker's rate-limit answer, unprocessed.
    RateLimited,
    /// Refuse with a web application firewall's HTML "Request Rejected" page, unprocessed.
    FirewallPage,
    /// Refuse with an empty HTTP 400, unprocessed.
    EmptyBadRequest,
    /// Refuse with the broker's session-expired error, unprocessed.
    SessionExpired,
    /// Accept a placed order, then reject it with this reason (visible in the order book).
    RejectAfterAccept(String),
}

impl Fault {
    /// Whether the request is executed before the fault shows (so the order exists).
    pub fn processes_request(&self) -> bool {
        matches!(
            self,
            Self::Latency(_) | Self::ServerError(_) | Self::Hang | Self::RejectAfterAccept(_)
        )
    }
}

/// Faults waiting for their endpoint, in the order they were injected. `E` is the
/// simulator's endpoint type.
#[derive(Debug)]
pub struct FaultQueue<E> {
    queued: Mutex<VecDeque<(E, Fault)>>,
}

impl<E> Default for FaultQueue<E> {
    fn default() -> Self {
        Self {
            queued: Mutex::new(VecDeque::new()),
        }
    }
}

impl<E: PartialEq> FaultQueue<E> {
    /// Queues `fault` for the next request to `endpoint`.
    pub fn inject(&self, endpoint: E, fault: Fault) {
        self.lock().push_back((endpoint, fault));
    }

    /// Takes the oldest fault queued for `endpoint`, if any.
    pub fn take(&self, endpoint: &E) -> Option<Fault> {
        let mut queued = self.lock();
        let position = queued.iter().position(|(target, _)| target == endpoint)?;
        queued.remove(position).map(|(_, fault)| fault)
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(E, Fault)>> {
        self.queued.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_come_out_per_endpoint_in_injection_order() {
        let queue = FaultQueue::default();
        queue.inject("place", Fault::Hang);
        queue.inject("book", Fault::RateLimited);
        queue.inject("place", Fault::ServerError(502));
        assert_eq!(queue.take(&"place"), Some(Fault::Hang));
        assert_eq!(queue.take(&"place"), Some(Fault::ServerError(502)));
        assert_eq!(queue.take(&"place"), None);
        assert_eq!(queue.take(&"book"), Some(Fault::RateLimited));
    }

    #[test]
    fn only_faults_after_processing_leave_an_order_behind() {
        assert!(Fault::Hang.processes_request());
        assert!(Fault::ServerError(504).processes_request());
        assert!(!Fault::RateLimited.processes_request());
        assert!(!Fault::FirewallPage.processes_request());
        assert!(!Fault::SessionExpired.processes_request());
    }
}
