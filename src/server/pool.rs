//! The connection threads: reused, bounded by the admitted connections.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Stack of a connection thread: the handlers do shallow work.
const CONNECTION_THREAD_STACK: usize = 256 * 1024;

/// One connection's work, run on a pool thread.
pub type Job = Box<dyn FnOnce() + Send>;

/// How long a connection thread waits for another connection before it ends.
const WORKER_LINGER: Duration = Duration::from_secs(2);

/// Connection threads, reused: a thread whose connection ended waits
/// [`WORKER_LINGER`] for the next one. Creating a thread per connection is
/// what new-connection-per-request monitors pay for (musl, which the static
/// binary uses, maps a fresh stack for every thread). The number of threads
/// stays bounded by the admitted connections; idle ones end on their own.
pub struct Workers {
    state: Mutex<WorkersState>,
    wake: Condvar,
}

#[derive(Default)]
struct WorkersState {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job and not yet promised one.
    idle: usize,
}

impl Workers {
    pub fn new() -> Arc<Workers> {
        Arc::new(Workers { state: Mutex::new(WorkersState::default()), wake: Condvar::new() })
    }

    /// Hands `job` to an idle thread, or starts a new one.
    pub fn run(self: &Arc<Self>, job: Job) -> io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.idle > 0 {
            st.idle -= 1; // promised to one waiting thread
            st.jobs.push_back(job);
            drop(st);
            self.wake.notify_one();
            return Ok(());
        }
        drop(st);
        let me = self.clone();
        std::thread::Builder::new().stack_size(CONNECTION_THREAD_STACK).spawn(move || me.work(job)).map(|_| ())
    }

    fn work(&self, mut job: Job) {
        loop {
            job();
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.idle += 1;
            let deadline = Instant::now() + WORKER_LINGER;
            job = loop {
                if let Some(next) = st.jobs.pop_front() {
                    break next;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    st.idle -= 1;
                    return;
                }
                st = self.wake.wait_timeout(st, left).unwrap_or_else(|p| p.into_inner()).0;
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(w: &Workers) -> usize {
        w.state.lock().unwrap().idle
    }

    fn wait_idle(w: &Workers, n: usize) {
        crate::testutil::wait_for(&format!("{n} idle threads"), Duration::from_secs(10), || {
            (idle(w) == n).then_some(())
        });
    }

    #[test]
    fn connection_threads_are_reused_then_end() {
        let w = Workers::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let t1 = tx.clone();
        w.run(Box::new(move || t1.send(std::thread::current().id()).unwrap())).unwrap();
        let first = rx.recv().unwrap();
        wait_idle(&w, 1);
        w.run(Box::new(move || tx.send(std::thread::current().id()).unwrap())).unwrap();
        assert_eq!(rx.recv().unwrap(), first, "the idle thread took the next connection");
        wait_idle(&w, 1);
        wait_idle(&w, 0); // ends after WORKER_LINGER
    }

    #[test]
    fn concurrent_connections_each_get_a_thread() {
        // Three jobs that only finish together: run on fewer threads, they
        // would wait forever.
        let w = Workers::new();
        let barrier = Arc::new(std::sync::Barrier::new(4));
        for _ in 0..3 {
            let b = barrier.clone();
            w.run(Box::new(move || {
                b.wait();
            }))
            .unwrap();
        }
        barrier.wait();
    }
}
