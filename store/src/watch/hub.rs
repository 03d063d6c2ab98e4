//! `WatchHub`: delivers each applied revision's changes to the watchers whose range they touch.
//!
//! Watchers are *synced* (they have seen everything up to the last notified revision and get new
//! changes straight from apply) or *unsynced* (they start in the past or fell behind). Apply never
//! waits for a watcher: it offers each synced watcher its changes with a non-blocking send, and a
//! watcher whose buffer is full becomes unsynced instead of slowing the writer or anyone else (as
//! etcd's unsynced/victim groups). A background syncer reads history pages from the backend and
//! feeds unsynced watchers until they have caught up, then moves them back to synced under the
//! hub lock, so no revision is delivered twice or skipped. A watcher whose next revision gets
//! compacted away is cancelled with the compact revision: it is never dropped silently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_proto::store::{event, watch_request, Event, WatchRequest, WatchResponse};
use parking_lot::{Condvar, Mutex};
use tokio::sync::mpsc;

use super::watcher::{Delivery, Watcher, WatcherShared};
use crate::backend::{Backend, EventPage};
use crate::error::{KvError, KvResult};
use crate::key_range::KeyRange;
use crate::validate::validate_watch;

/// Tunables of the hub.
#[derive(Clone, Debug)]
pub struct WatchHubConfig {
    /// Responses buffered per watcher before it is moved to catch-up mode.
    pub buffer: usize,
    /// How often idle watchers that asked for progress notifications get one (etcd: 10 minutes).
    pub progress_interval: Duration,
    /// Most changes read from history per catch-up page.
    pub page_events: usize,
}

impl Default for WatchHubConfig {
    fn default() -> Self {
        WatchHubConfig {
            buffer: 128,
            progress_interval: Duration::from_secs(600),
            page_events: 1000,
        }
    }
}

struct Slot {
    range: KeyRange,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
    /// The next revision this watcher must see.
    next_rev: i64,
    tx: mpsc::Sender<Delivery>,
    shared: Arc<WatcherShared>,
    /// Something was sent since the last progress tick.
    busy: bool,
}

impl Slot {
    /// Indices of `events` this watcher wants, `None` when it wants all of them.
    fn select(&self, events: &[Event], from_rev: i64) -> Option<Vec<u32>> {
        let wants = |e: &Event| {
            let Some(kv) = &e.kv else { return false };
            let is_put = e.r#type == event::EventType::Put as i32;
            kv.mod_revision >= from_rev
                && self.range.contains(&kv.key)
                && !(is_put && self.no_put)
                && (is_put || !self.no_delete)
        };
        if events.iter().all(wants) {
            return None;
        }
        Some(
            events
                .iter()
                .enumerate()
                .filter(|(_, e)| wants(e))
                .map(|(i, _)| i as u32)
                .collect(),
        )
    }
}

struct HubState {
    next_id: i64,
    /// Every change up to this revision has been offered to the synced watchers.
    notified: i64,
    compact: i64,
    synced: HashMap<i64, Slot>,
    unsynced: HashMap<i64, Slot>,
    /// Bumped when the state is replaced (`reset`): history read before belongs to the old state.
    generation: u64,
}

/// The watch hub of one store.
pub struct WatchHub {
    state: Mutex<HubState>,
    wake: Condvar,
    stop: AtomicBool,
    config: WatchHubConfig,
    /// How many times a watcher's buffer was full and it moved to catch-up (a metric).
    fell_behind_total: AtomicU64,
}

enum Offer {
    Sent,
    Nothing,
    Full,
    Closed,
}

fn offer(slot: &mut Slot, revision: i64, events: &Arc<Vec<Event>>, from_rev: i64) -> Offer {
    let mask = slot.select(events, from_rev);
    if mask.as_ref().is_some_and(|m| m.is_empty()) {
        return Offer::Nothing;
    }
    match slot.tx.try_send(Delivery::Events {
        revision,
        events: events.clone(),
        mask,
    }) {
        Ok(()) => {
            slot.busy = true;
            Offer::Sent
        }
        Err(mpsc::error::TrySendError::Full(_)) => Offer::Full,
        Err(mpsc::error::TrySendError::Closed(_)) => Offer::Closed,
    }
}

/// The last response of a cancelled watch: it must re-list from `compact_revision` on.
fn cancelled(revision: i64, compact_revision: i64, reason: String) -> WatchResponse {
    WatchResponse {
        revision,
        canceled: true,
        compact_revision,
        cancel_reason: reason,
        events: Vec::new(),
    }
}

/// The cancellation of a watch whose next revision is below the compact revision.
fn compacted(revision: i64, compact: i64) -> WatchResponse {
    cancelled(
        revision,
        compact,
        KvError::Compacted {
            compact_revision: compact,
        }
        .to_string(),
    )
}

impl WatchHub {
    /// A hub whose store is at `current` and compacted below `compact`.
    pub fn new(current: i64, compact: i64, config: WatchHubConfig) -> Arc<WatchHub> {
        Arc::new(WatchHub {
            state: Mutex::new(HubState {
                next_id: 1,
                notified: current,
                compact,
                synced: HashMap::new(),
                unsynced: HashMap::new(),
                generation: 0,
            }),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            config,
            fell_behind_total: AtomicU64::new(0),
        })
    }

    /// Registers a watcher. A start revision below the compaction point yields a watcher whose
    /// only response is the cancellation with the compact revision.
    pub fn watch(self: &Arc<Self>, req: &WatchRequest) -> KvResult<Watcher> {
        let range = validate_watch(req)?;
        let (tx, rx) = mpsc::channel(self.config.buffer.max(1));
        let shared = Arc::new(WatcherShared::default());
        let mut st = self.state.lock();
        let id = st.next_id;
        st.next_id += 1;
        let start = if req.start_revision == 0 {
            st.notified + 1
        } else {
            req.start_revision
        };
        let watcher = Watcher::new(id, rx, shared.clone(), Arc::downgrade(self), req.prev_kv);
        if start < st.compact {
            shared.cancel(compacted(st.notified, st.compact));
            return Ok(watcher);
        }
        let has = |f: watch_request::FilterType| req.filters.contains(&(f as i32));
        let slot = Slot {
            range,
            no_put: has(watch_request::FilterType::Noput),
            no_delete: has(watch_request::FilterType::Nodelete),
            progress_notify: req.progress_notify,
            next_rev: start,
            tx,
            shared,
            busy: false,
        };
        if start > st.notified {
            st.synced.insert(id, slot);
        } else {
            st.unsynced.insert(id, slot);
            self.wake.notify_all();
        }
        Ok(watcher)
    }

    /// Offers the changes of revision `revision` to the synced watchers. Called by apply, in
    /// revision order, after the revision is committed. Never blocks on a watcher.
    pub fn notify(&self, revision: i64, events: Vec<Event>) {
        let events = Arc::new(events);
        let mut st = self.state.lock();
        st.notified = st.notified.max(revision);
        let mut fell_behind = Vec::new();
        let mut closed = Vec::new();
        for (id, slot) in st.synced.iter_mut() {
            if revision < slot.next_rev {
                continue;
            }
            match offer(slot, revision, &events, revision) {
                Offer::Sent | Offer::Nothing => slot.next_rev = revision + 1,
                Offer::Full => fell_behind.push(*id),
                Offer::Closed => closed.push(*id),
            }
        }
        for id in closed {
            st.synced.remove(&id);
        }
        if !fell_behind.is_empty() {
            self.fell_behind_total
                .fetch_add(fell_behind.len() as u64, Ordering::Relaxed);
            for id in fell_behind {
                if let Some(slot) = st.synced.remove(&id) {
                    st.unsynced.insert(id, slot);
                }
            }
            self.wake.notify_all();
        }
    }

    /// Records a new compact revision: unsynced watchers that still need older revisions are
    /// cancelled with it.
    pub fn compacted(&self, compact: i64) {
        let mut st = self.state.lock();
        st.compact = st.compact.max(compact);
        Self::cancel_compacted(&mut st);
    }

    fn cancel_compacted(st: &mut HubState) {
        let compact = st.compact;
        let notified = st.notified;
        st.unsynced.retain(|_, slot| {
            if slot.next_rev >= compact {
                return true;
            }
            slot.shared.cancel(compacted(notified, compact));
            false
        });
    }

    /// The state was replaced (a snapshot was restored): every watcher catches up from the new
    /// history, or is cancelled if what it needs is gone.
    /// A watcher that had already passed the new current revision is cancelled (with the new
    /// revision as its compact revision, so clients re-list): the revisions it saw no longer
    /// exist.
    pub fn reset(&self, current: i64, compact: i64) {
        let mut st = self.state.lock();
        st.generation += 1;
        st.notified = current;
        st.compact = compact;
        let synced: Vec<(i64, Slot)> = st.synced.drain().collect();
        st.unsynced.extend(synced);
        st.unsynced.retain(|_, slot| {
            if slot.next_rev <= current + 1 {
                return true;
            }
            slot.shared.cancel(cancelled(
                current,
                current,
                "the store was restored from a snapshot to an earlier revision".into(),
            ));
            false
        });
        Self::cancel_compacted(&mut st);
        self.wake.notify_all();
    }

    /// Sends a progress notification to a synced watcher (an unsynced one gets none until it has
    /// caught up, since it cannot claim to have seen everything).
    pub(crate) fn request_progress(&self, id: i64) {
        let st = self.state.lock();
        if let Some(slot) = st.synced.get(&id) {
            let _ = slot
                .tx
                .try_send(Delivery::Progress(st.notified.max(slot.next_rev - 1)));
        }
    }

    pub(crate) fn remove(&self, id: i64) {
        let mut st = self.state.lock();
        st.synced.remove(&id);
        st.unsynced.remove(&id);
    }

    /// Watchers registered: (synced, unsynced).
    pub fn counts(&self) -> (usize, usize) {
        let st = self.state.lock();
        (st.synced.len(), st.unsynced.len())
    }

    /// How many times a watcher fell behind (its buffer was full) and had to catch up from
    /// history.
    pub fn fell_behind_total(&self) -> u64 {
        self.fell_behind_total.load(Ordering::Relaxed)
    }

    /// Asks the syncer thread to end.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _guard = self.state.lock();
        self.wake.notify_all();
    }

    /// The syncer loop: catches unsynced watchers up from `backend` and sends periodic progress
    /// notifications. Runs on its own thread until [`WatchHub::shutdown`].
    pub fn run_syncer<B: Backend + ?Sized>(&self, backend: &B) {
        let mut last_progress = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            {
                let mut st = self.state.lock();
                let wait = if st.unsynced.is_empty() {
                    self.config
                        .progress_interval
                        .min(Duration::from_millis(500))
                } else {
                    Duration::from_millis(5)
                };
                self.wake.wait_for(&mut st, wait);
            }
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            if last_progress.elapsed() >= self.config.progress_interval {
                last_progress = Instant::now();
                self.progress_tick();
            }
            // Keep reading pages while some watcher is behind and can take more.
            loop {
                let (from, generation) = {
                    let st = self.state.lock();
                    let from = st
                        .unsynced
                        .values()
                        .filter(|s| s.tx.capacity() > 0)
                        .map(|s| s.next_rev)
                        .min();
                    (from, st.generation)
                };
                let Some(from) = from else { break };
                match backend.events_since(from, self.config.page_events) {
                    Ok(page) => {
                        if !self.deliver_page(from, page, generation) {
                            break;
                        }
                    }
                    Err(KvError::Compacted { compact_revision }) => {
                        let mut st = self.state.lock();
                        if st.generation == generation {
                            st.compact = st.compact.max(compact_revision);
                            Self::cancel_compacted(&mut st);
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "watch catch-up cannot read history");
                        break;
                    }
                }
            }
        }
    }

    /// Hands one history page to the unsynced watchers it serves; returns whether any made
    /// progress (so another page is worth reading now).
    fn deliver_page(&self, from: i64, page: EventPage, generation: u64) -> bool {
        let events = Arc::new(page.events);
        let mut st = self.state.lock();
        if st.generation != generation {
            // Read from a state that has since been replaced: read again.
            return true;
        }
        let notified = st.notified;
        let mut progressed = false;
        let mut done = Vec::new();
        let mut closed = Vec::new();
        for (id, slot) in st.unsynced.iter_mut() {
            if slot.next_rev < from || slot.next_rev > page.through || slot.tx.capacity() == 0 {
                if slot.next_rev > page.through && slot.next_rev > notified {
                    done.push(*id);
                }
                continue;
            }
            match offer(slot, page.through, &events, slot.next_rev) {
                Offer::Sent | Offer::Nothing => {
                    slot.next_rev = page.through + 1;
                    progressed = true;
                    if slot.next_rev > notified {
                        done.push(*id);
                    }
                }
                Offer::Full => {}
                Offer::Closed => closed.push(*id),
            }
        }
        for id in closed {
            st.unsynced.remove(&id);
        }
        for id in done {
            if let Some(slot) = st.unsynced.remove(&id) {
                st.synced.insert(id, slot);
            }
        }
        progressed
    }

    fn progress_tick(&self) {
        let mut st = self.state.lock();
        let notified = st.notified;
        for slot in st.synced.values_mut() {
            if slot.progress_notify && !slot.busy {
                // A watcher caught up from history may be ahead of the last notified revision.
                let _ = slot
                    .tx
                    .try_send(Delivery::Progress(notified.max(slot.next_rev - 1)));
            }
            slot.busy = false;
        }
    }
}
