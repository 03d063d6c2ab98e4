//! Watches: the hub that fans applied changes out to watchers, the catch-up from history for
//! watchers that start in the past or fell behind, and the handle clients hold.

mod hub;
mod watcher;

pub use hub::{WatchHub, WatchHubConfig};
pub use watcher::{ProgressHandle, WatchBatch, WatchEvents, Watcher};
