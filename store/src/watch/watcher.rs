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

/// Changes delivered to one watcher, shared with every other watcher that got the same revision:
/// reading them copies nothing.
pub struct WatchEvents {
    /// The revision the watcher is current to once it has these events.
    pub revision: i64,
    events: Arc<Vec<Event>>,
    mask: Option<Vec<u32>>,
    prev_kv: bool,
}

impl WatchEvents {
    /// The events, in revision order. `prev_kv` is present only if the watch asked for it.
    pub fn iter(
        &self,
    ) -> impl Iterator<Item = (&Event, Option<&capstan_proto::store::KeyValue>)> + '_ {
        let all: Box<dyn Iterator<Item = &Event> + '_> = match &self.mask {
            None => Box::new(self.events.iter()),
            Some(m) => Box::new(m.iter().filter_map(|&i| self.events.get(i as usize))),
        };
        all.map(|e| (e, e.prev_kv.as_ref().filter(|_| self.prev_kv)))
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.mask.as_ref().map_or(self.events.len(), Vec::len)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An owned response (copies the events).
    pub fn to_response(&self) -> WatchResponse {
        WatchResponse {
            revision: self.revision,
            events: self
                .iter()
                .map(|(e, prev)| Event {
                    r#type: e.r#type,
                    kv: e.kv.clone(),
                    prev_kv: prev.cloned(),
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// One delivery to a watcher, without copies.
pub enum WatchBatch {
    /// Changes.
    Events(WatchEvents),
    /// Everything up to this revision has been delivered.
    Progress(i64),
    /// The watch ended; the response says why (for example the compact revision).
    Cancelled(WatchResponse),
}

/// Asks a watcher for progress notifications from elsewhere (see [`Watcher::request_progress`]).
#[derive(Clone)]
pub struct ProgressHandle {
    id: i64,
    hub: Weak<WatchHub>,
}

impl ProgressHandle {
    /// Same as [`Watcher::request_progress`].
    pub fn request(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.request_progress(self.id);
        }
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

    /// The next delivery, sharing the events with other watchers (no copies): changes (all of a
    /// revision together, in revision order), a progress notification, or the final
    /// cancellation. `None` after the cancellation, or if the store is gone.
    pub async fn recv_batch(&mut self) -> Option<WatchBatch> {
        if self.finished {
            return None;
        }
        let d = self.rx.recv().await;
        self.batch(d)
    }

    /// Like [`Watcher::recv_batch`] but returns `None` at once when nothing is ready.
    pub fn try_recv_batch(&mut self) -> Option<WatchBatch> {
        if self.finished {
            return None;
        }
        match self.rx.try_recv() {
            Ok(d) => self.batch(Some(d)),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => self.batch(None),
        }
    }

    /// The next response, owned: changes, a progress notification (no events), or the final
    /// cancellation (`canceled`, with the reason). `None` after the cancellation.
    pub async fn recv(&mut self) -> Option<WatchResponse> {
        self.recv_batch().await.map(WatchBatch::into_response)
    }

    /// Like [`Watcher::recv`] but returns `None` at once when nothing is ready.
    pub fn try_recv(&mut self) -> Option<WatchResponse> {
        self.try_recv_batch().map(WatchBatch::into_response)
    }

    /// A handle that can ask for progress notifications while another task reads the watcher.
    pub fn progress_handle(&self) -> ProgressHandle {
        ProgressHandle {
            id: self.id,
            hub: self.hub.clone(),
        }
    }

    /// Asks for a progress notification: the current revision, if this watcher has seen every
    /// change up to it.
    pub fn request_progress(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.request_progress(self.id);
        }
    }

    fn batch(&mut self, d: Option<Delivery>) -> Option<WatchBatch> {
        match d {
            Some(Delivery::Progress(revision)) => Some(WatchBatch::Progress(revision)),
            Some(Delivery::Events {
                revision,
                events,
                mask,
            }) => Some(WatchBatch::Events(WatchEvents {
                revision,
                events,
                mask,
                prev_kv: self.prev_kv,
            })),
            None => {
                self.finished = true;
                self.shared.cancel.lock().take().map(WatchBatch::Cancelled)
            }
        }
    }
}

impl WatchBatch {
    /// The owned response form.
    pub fn into_response(self) -> WatchResponse {
        match self {
            WatchBatch::Events(e) => e.to_response(),
            WatchBatch::Progress(revision) => WatchResponse {
                revision,
                ..Default::default()
            },
            WatchBatch::Cancelled(r) => r,
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
