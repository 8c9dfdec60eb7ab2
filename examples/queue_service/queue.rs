//! An in-process queue with acknowledgements: a message a worker took stays "in flight"
//! under that worker until acked; if the worker dies, its next incarnation recovers it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use steadfast::CancellationToken;
use tokio::sync::Notify;

/// One message on the queue.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: u64,
    pub payload: String,
    pub slow: bool,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Message>,
    in_flight: HashMap<usize, Message>,
    closed: bool,
}

/// The queue shared by the ingest stage and the parser workers.
#[derive(Default)]
pub struct Queue {
    state: Mutex<State>,
    /// Wakes workers waiting for a message, and the drain waiting for the end.
    changed: Notify,
    drained: Notify,
}

impl Queue {
    pub fn push_batch(&self, batch: impl IntoIterator<Item = Message>) {
        self.state.lock().unwrap().pending.extend(batch);
        self.changed.notify_waiters();
    }

    /// No more messages will be pushed.
    pub fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.changed.notify_waiters();
        self.check_drained();
    }

    /// The next message for `worker`, held in flight until [`ack`](Queue::ack); `None`
    /// once the queue is closed and empty, or on cancellation.
    pub async fn take(&self, worker: usize, cancel: &CancellationToken) -> Option<Message> {
        loop {
            let changed = self.changed.notified();
            {
                let mut state = self.state.lock().unwrap();
                if let Some(message) = state.pending.pop_front() {
                    state.in_flight.insert(worker, message.clone());
                    return Some(message);
                }
                if state.closed {
                    return None;
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return None,
                () = changed => {}
            }
        }
    }

    /// `worker` is done with the message it held.
    pub fn ack(&self, worker: usize) {
        self.state.lock().unwrap().in_flight.remove(&worker);
        self.check_drained();
    }

    /// The message a previous incarnation of `worker` held when it died, if any.
    pub fn recover(&self, worker: usize) -> Option<Message> {
        let held = self.state.lock().unwrap().in_flight.remove(&worker);
        self.check_drained();
        held
    }

    /// Everything not yet done: pending and in flight.
    pub fn take_all(&self) -> Vec<Message> {
        let mut state = self.state.lock().unwrap();
        let mut left: Vec<Message> = state.in_flight.drain().map(|(_, m)| m).collect();
        left.extend(state.pending.drain(..));
        left
    }

    /// Waits until the queue is closed, empty, and nothing is in flight.
    pub async fn drained(&self) {
        loop {
            let drained = self.drained.notified();
            if self.is_drained() {
                return;
            }
            drained.await;
        }
    }

    fn is_drained(&self) -> bool {
        let state = self.state.lock().unwrap();
        state.closed && state.pending.is_empty() && state.in_flight.is_empty()
    }

    fn check_drained(&self) {
        if self.is_drained() {
            self.drained.notify_waiters();
        }
    }
}
