//! The simulated network holding back its answers to an instance's sends
//! (`POST /sim/instances/{id}/hold-sends`). While a hold is on, a message is
//! taken as usual (its record committed: WhatsApp has it) but the session
//! that sent it hears nothing until the hold is released, the instance is
//! deleted, or the server's process dies with the answer unsent. A test can
//! so stop the server inside the window between WhatsApp taking a message
//! and wasap learning that it did, which is otherwise too narrow to hit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// An instance's hold: whether it is on, and how many answers it holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HoldState {
    pub on: bool,
    pub held: usize,
}

/// Every instance's hold. An instance has one from its first hold (or wait
/// on one) until it is deleted.
#[derive(Default)]
pub(super) struct SendHolds {
    holds: Mutex<HashMap<String, Arc<watch::Sender<HoldState>>>>,
}

impl SendHolds {
    fn get(&self, instance_id: &str) -> Option<Arc<watch::Sender<HoldState>>> {
        lock(&self.holds).get(instance_id).cloned()
    }

    fn get_or_make(&self, instance_id: &str) -> Arc<watch::Sender<HoldState>> {
        lock(&self.holds)
            .entry(instance_id.to_owned())
            .or_insert_with(|| Arc::new(watch::channel(HoldState::default()).0))
            .clone()
    }

    /// Turns the instance's hold on or off (releasing what it holds); its
    /// state as it was before.
    pub(super) fn set(&self, instance_id: &str, on: bool) -> HoldState {
        let hold = match (on, self.get(instance_id)) {
            (true, _) => self.get_or_make(instance_id),
            (false, Some(hold)) => hold,
            (false, None) => return HoldState::default(),
        };
        let mut before = HoldState::default();
        hold.send_modify(|state| {
            before = *state;
            state.on = on;
        });
        before
    }

    /// Returns at once when the instance's sends are not held; otherwise
    /// once the hold is released.
    pub(super) async fn answer(&self, instance_id: &str) {
        let Some(hold) = self.get(instance_id) else { return };
        let mut holding = false;
        hold.send_if_modified(|state| {
            holding = state.on;
            state.held += usize::from(holding);
            holding
        });
        if !holding {
            return;
        }
        // Counted while held, also when the waiting send is dropped.
        let _counted = Counted(hold.clone());
        let mut released = hold.subscribe();
        let _ = released.wait_for(|state| !state.on).await;
    }

    /// The instance's hold once it holds at least `min` answers, or as it
    /// is when `timeout` runs out.
    pub(super) async fn wait_held(&self, instance_id: &str, min: usize, timeout: Duration) -> HoldState {
        let mut state = self.get_or_make(instance_id).subscribe();
        if let Ok(Ok(held)) = tokio::time::timeout(timeout, state.wait_for(|s| s.held >= min)).await {
            return *held;
        }
        *state.borrow()
    }

    /// The instance was deleted: its held answers go.
    pub(super) fn forget(&self, instance_id: &str) {
        let hold = lock(&self.holds).remove(instance_id);
        if let Some(hold) = hold {
            hold.send_modify(|state| state.on = false);
        }
    }
}

/// One answer held: uncounted when its send is answered or dropped.
struct Counted(Arc<watch::Sender<HoldState>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.send_modify(|state| state.held = state.held.saturating_sub(1));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_answer_waits_for_the_release() {
        let holds = Arc::new(SendHolds::default());
        holds.answer("shop").await;
        assert_eq!(holds.set("shop", true), HoldState::default());
        let answered = tokio::spawn({
            let holds = holds.clone();
            async move { holds.answer("shop").await }
        });
        let state = holds.wait_held("shop", 1, Duration::from_secs(10)).await;
        assert_eq!(state, HoldState { on: true, held: 1 });
        assert!(!answered.is_finished());
        // Another instance's sends are not held.
        holds.answer("other").await;

        assert_eq!(holds.set("shop", false), HoldState { on: true, held: 1 });
        answered.await.unwrap();
        assert_eq!(holds.wait_held("shop", 0, Duration::ZERO).await, HoldState::default());
    }

    #[tokio::test]
    async fn deleting_the_instance_releases_its_answers() {
        let holds = Arc::new(SendHolds::default());
        holds.set("shop", true);
        let answered = tokio::spawn({
            let holds = holds.clone();
            async move { holds.answer("shop").await }
        });
        holds.wait_held("shop", 1, Duration::from_secs(10)).await;
        holds.forget("shop");
        answered.await.unwrap();
    }
}
