//! The client workloads of a run: registers, list-append transactions, leases and watchers.
//! Every lane is one client doing one operation at a time with no hidden retries.

pub mod append;
pub mod lease;
pub mod register;
pub mod watch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// When lanes run: a gap between operations (keeps the load at what two cores can check) and a
/// shared stop flag.
#[derive(Clone)]
pub struct Pace {
    stop: Arc<AtomicBool>,
    gap: Duration,
}

impl Pace {
    pub fn new(gap: Duration) -> Pace {
        Pace {
            stop: Arc::new(AtomicBool::new(false)),
            gap,
        }
    }

    /// Waits the gap; false once the run says stop.
    pub async fn go(&self) -> bool {
        if !self.running() {
            return false;
        }
        tokio::time::sleep(self.gap).await;
        self.running()
    }

    pub fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
