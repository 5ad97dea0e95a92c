//! At most as many answers computed at once as there are cores.
//!
//! Why: every request runs on a thread of tokio's blocking pool. Under 32 concurrent
//! uncached `similar` requests on 2 cores, 32 runnable threads shared the cores in time
//! slices, so an answer that needs 0.3 ms of CPU waited tens of milliseconds for its turns
//! (p99 46 ms at 3,300 requests/s, `cargo bench --bench serve`). Behind the gate a started
//! answer runs to its end and the others wait asleep, in turn. Only the computing is gated:
//! a search waiting for the embedding thread holds no permit.

use std::sync::{Condvar, Mutex, PoisonError};

pub struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Gate {
    /// A gate that lets `permits` computations (at least one) run at once.
    pub fn new(permits: usize) -> Self {
        Self {
            free: Mutex::new(permits.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Runs `work` once a permit is free; the permit is given back however `work` ends,
    /// a panic included.
    pub fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        drop(free);
        let _permit = Permit(self);
        work()
    }
}

struct Permit<'a>(&'a Gate);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_more_than_the_permits_run_at_once_and_a_panic_gives_its_permit_back() {
        let gate = Gate::new(2);
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    gate.run(|| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gate.run(|| panic!("a handler fails"))
        }));
        assert!(panicked.is_err());
        // Every permit is free again.
        assert_eq!(*gate.free.lock().unwrap(), 2);
    }
}
