//! `Watcher`: the client's end of a watch. Responses arrive in revision order; the last one of a
//! cancelled watch says why (for example the compact revision that overtook it).

use std::sync::{Arc, Weak};

use capstan_proto::store::{Event, WatchResponse};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::hub::WatchHub;

/// What the hub hands a watcher: changes (shared between all watchers that get them, with the
/// indices this watcher wants) or a progress notification.
pub(crate) enum Delivery {
    Events {
        /// The revision the watcher is current to once it has these events.
        revision: i64,
        events: Arc<Vec<Event>>,
        mask: Option<Vec<u32>>,
    },
    Progress(i64),
}

/// State shared between the hub's slot and the watcher.
#[derive(Default)]
pub(crate) struct WatcherShared {
    cancel: Mutex<Option<WatchResponse>>,
}

impl WatcherShared {
    /// Records the final response; the hub drops its sender right after, so the watcher reads
    /// everything buffered before it and then this.
    pub(crate) fn cancel(&self, resp: WatchResponse) {
        *self.cancel.lock() = Some(resp);
    }
}

/// A watch on a key range. Dropping it removes the watch.
pub struct Watcher {
    id: i64,
    rx: mpsc::Receiver<Delivery>,
    shared: Arc<WatcherShared>,
    hub: Weak<WatchHub>,
    prev_kv: bool,
    finished: bool,
}

impl Watcher {
    pub(crate) fn new(
        id: i64,
        rx: mpsc::Receiver<Delivery>,
        shared: Arc<WatcherShared>,
        hub: Weak<WatchHub>,
        prev_kv: bool,
    ) -> Watcher {
        Watcher {
            id,
            rx,
            shared,
            hub,
            prev_kv,
            finished: false,
        }
    }

    /// The watch id, unique within its store.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The next response: changes (all of a revision together, in revision order), a progress
    /// notification (no events), or the final cancellation (`canceled`, with the reason). `None`
    /// after the cancellation, or if the store is gone.
    pub async fn recv(&mut self) -> Option<WatchResponse> {
        if self.finished {
            return None;
        }
        match self.rx.recv().await {
            Some(d) => Some(self.to_response(d)),
            None => {
                self.finished = true;
                self.shared.cancel.lock().take()
            }
        }
    }

    /// Like [`Watcher::recv`] but returns `None` at once when nothing is ready.
    pub fn try_recv(&mut self) -> Option<WatchResponse> {
        if self.finished {
            return None;
        }
        match self.rx.try_recv() {
            Ok(d) => Some(self.to_response(d)),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                self.finished = true;
                self.shared.cancel.lock().take()
            }
        }
    }

    /// Asks for a progress notification: the current revision, if this watcher has seen every
    /// change up to it.
    pub fn request_progress(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.request_progress(self.id);
        }
    }

    fn to_response(&self, d: Delivery) -> WatchResponse {
        match d {
            Delivery::Progress(revision) => WatchResponse {
                revision,
                ..Default::default()
            },
            Delivery::Events {
                revision,
                events,
                mask,
            } => {
                let pick = |e: &Event| {
                    let mut e = e.clone();
                    if !self.prev_kv {
                        e.prev_kv = None;
                    }
                    e
                };
                let events: Vec<Event> = match mask {
                    None => events.iter().map(pick).collect(),
                    Some(m) => m
                        .iter()
                        .filter_map(|&i| events.get(i as usize))
                        .map(pick)
                        .collect(),
                };
                WatchResponse {
                    revision,
                    events,
                    ..Default::default()
                }
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.remove(self.id);
        }
    }
}
