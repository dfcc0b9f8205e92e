//! Health of one backend: healthy, or out with a back-off until its self-test passes again.
//!
//! Owns: the state machine `Healthy -> Out { failures, retry_at } -> (self-test) -> Healthy`,
//! and the exponential back-off between re-admission attempts.
//! Never: runs work or judges answers (the dispatcher reports failures here), and never
//! re-admits a backend without a passing known-answer self-test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Why a backend was taken out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutReason {
    /// It returned a device fault ([`crate::AccelError::is_device_fault`]).
    Error,
    /// Its answers were wrong (a canary or a CPU re-check disagreed): quarantined.
    WrongAnswer,
}

#[derive(Debug)]
enum State {
    Healthy,
    Out { failures: u32, retry_at: Instant, reason: OutReason },
}

/// The health of one backend, shared by threads.
#[derive(Debug)]
pub(crate) struct Health {
    state: Mutex<State>,
    /// Set while one thread runs the self-test, so that others do not pile on.
    probing: AtomicBool,
    initial: Duration,
    max: Duration,
}

/// What [`Health::admit`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Healthy: send work.
    Yes,
    /// Out, and not yet time to try again (or another thread is probing).
    No,
    /// Out, and the back-off has passed: the caller runs the self-test and reports back with
    /// [`Health::probe_result`].
    Probe,
}

impl Health {
    pub(crate) fn new(initial: Duration, max: Duration) -> Health {
        Health { state: Mutex::new(State::Healthy), probing: AtomicBool::new(false), initial, max }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is replaced whole; a poisoned lock still holds a consistent one.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the backend is healthy now.
    pub(crate) fn is_healthy(&self) -> bool {
        matches!(*self.lock(), State::Healthy)
    }

    /// Why it is out, if it is.
    pub(crate) fn out_reason(&self) -> Option<OutReason> {
        match *self.lock() {
            State::Healthy => None,
            State::Out { reason, .. } => Some(reason),
        }
    }

    /// May work go there now?
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        match *self.lock() {
            State::Healthy => Admission::Yes,
            State::Out { retry_at, .. } if now >= retry_at => {
                if self.probing.swap(true, Ordering::AcqRel) {
                    Admission::No
                } else {
                    Admission::Probe
                }
            }
            State::Out { .. } => Admission::No,
        }
    }

    /// The back-off after `failures` consecutive failures: initial x 2^(failures-1), capped.
    fn backoff(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(20);
        self.initial.saturating_mul(1 << shift).min(self.max)
    }

    /// The backend failed (an error or a wrong answer). Returns true when it was healthy
    /// until now (a new outage, not a repeat).
    pub(crate) fn fail(&self, reason: OutReason, now: Instant) -> bool {
        let mut state = self.lock();
        let (failures, was_healthy) = match *state {
            State::Healthy => (1, true),
            State::Out { failures, .. } => (failures.saturating_add(1), false),
        };
        // A wrong answer is worse than an error: keep the quarantine reason once set.
        let reason = match (&*state, reason) {
            (State::Out { reason: OutReason::WrongAnswer, .. }, _) => OutReason::WrongAnswer,
            _ => reason,
        };
        *state = State::Out { failures, retry_at: now + self.backoff(failures), reason };
        was_healthy
    }

    /// The outcome of a self-test started after [`Admission::Probe`]. Returns true when the
    /// backend is re-admitted.
    pub(crate) fn probe_result(&self, passed: bool, now: Instant) -> bool {
        let mut state = self.lock();
        if passed {
            *state = State::Healthy;
        } else if let State::Out { failures, reason, .. } = *state {
            let failures = failures.saturating_add(1);
            *state = State::Out { failures, retry_at: now + self.backoff(failures), reason };
        }
        drop(state);
        self.probing.store(false, Ordering::Release);
        passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_and_self_test_readmits() {
        let h = Health::new(Duration::from_millis(10), Duration::from_millis(35));
        let t0 = Instant::now();
        assert_eq!(h.admit(t0), Admission::Yes);
        assert!(h.fail(OutReason::Error, t0));
        assert_eq!(h.admit(t0), Admission::No);
        assert_eq!(h.admit(t0 + Duration::from_millis(10)), Admission::Probe);
        // Another thread meanwhile: no second probe.
        assert_eq!(h.admit(t0 + Duration::from_millis(10)), Admission::No);
        assert!(!h.probe_result(false, t0 + Duration::from_millis(10)));
        // Two failures: 20 ms.
        assert_eq!(h.admit(t0 + Duration::from_millis(29)), Admission::No);
        assert!(!h.fail(OutReason::WrongAnswer, t0 + Duration::from_millis(30)));
        assert_eq!(h.out_reason(), Some(OutReason::WrongAnswer));
        // Three failures: 40 ms capped at 35.
        assert_eq!(h.admit(t0 + Duration::from_millis(64)), Admission::No);
        assert_eq!(h.admit(t0 + Duration::from_millis(65)), Admission::Probe);
        assert!(h.probe_result(true, t0 + Duration::from_millis(65)));
        assert!(h.is_healthy());
    }
}
