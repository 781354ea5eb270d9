//! The epoch ticker: the thread that advances the plugin engines' epoch
//! every [`EPOCH_TICK`] while a plugin call is in flight, and sleeps while
//! none is.
//!
//! A call's wall-clock deadline is checked at epoch ticks (`runner.rs`), so
//! the epoch must advance while wasm may run. Between calls nothing reads
//! it, and an idle server should not wake a thousand times a second for it
//! (BENCHMARKS.md counted those wake-ups). Each call holds a [`Running`]
//! guard while it is in flight; the ticker waits for the first guard.
//!
//! The demand is process-wide, like the engine (`PluginEngine::shared`):
//! the runner gets a `wasmtime::Engine` from its loaded plugin and has no
//! handle on the ticker, and a guard only has to say "some wasm may run".
//! An engine made for a test has a ticker of its own on the same demand.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use wasmtime::{Engine, EngineWeak};

/// How often the epoch advances while a call is in flight: the granularity
/// of wall-clock deadlines and of a running plugin's yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// How many plugin calls are in flight, and the tickers' wake-up.
pub(super) struct Demand {
    calls: Mutex<Calls>,
    wake: Condvar,
}

struct Calls {
    /// Plugin calls in flight.
    running: usize,
    /// Tickers waiting for one: a call that starts wakes them only if there
    /// are any, so calls in a burst do not each cost a wake-up system call.
    waiting: usize,
}

/// The demand of every engine in the process.
static DEMAND: Demand = Demand::new();

impl Demand {
    const fn new() -> Demand {
        Demand {
            calls: Mutex::new(Calls { running: 0, waiting: 0 }),
            wake: Condvar::new(),
        }
    }

    /// A call is in flight until the guard is dropped.
    fn enter(&'static self) -> Running {
        let mut calls = self.lock();
        calls.running += 1;
        if calls.running == 1 && calls.waiting > 0 {
            self.wake.notify_all();
        }
        Running(self)
    }

    /// Waits until a call is in flight, `stop` is set (see [`Demand::stopped`])
    /// or `timeout` has passed; whether a call is in flight.
    fn wait(&self, stop: &AtomicBool, timeout: Duration) -> bool {
        let mut calls = self.lock();
        calls.waiting += 1;
        let (mut calls, _) = self
            .wake
            .wait_timeout_while(calls, timeout, |calls| {
                calls.running == 0 && !stop.load(Ordering::Relaxed)
            })
            .unwrap_or_else(PoisonError::into_inner);
        calls.waiting -= 1;
        calls.running > 0
    }

    /// Wakes the waiting tickers so they see their `stop` flag.
    fn stopped(&self) {
        let _calls = self.lock();
        self.wake.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A plugin call in flight: the epoch advances until this is dropped.
pub struct Running(&'static Demand);

impl Running {
    /// Marks a call in flight, waking the ticker if it was waiting.
    pub fn start() -> Running {
        DEMAND.enter()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.lock().running -= 1;
    }
}

/// The ticker of `engines`; it ends when `Ticker` is dropped or an engine is.
pub(super) struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    /// Starts the thread that advances the epoch of `engines`.
    pub(super) fn start(engines: [&Engine; 2]) -> std::io::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak: [EngineWeak; 2] = engines.map(Engine::weak);
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("wasap-plugin-epoch".into())
            .spawn(move || tick(&DEMAND, &flag, &weak))?;
        Ok(Ticker { stop })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        DEMAND.stopped();
    }
}

/// Longest wait without a call before checking that the engines still exist
/// (an engine dropped without its `Ticker`, which cannot happen today, would
/// otherwise keep the thread waiting for good).
const IDLE_CHECK: Duration = Duration::from_secs(60);

fn tick(demand: &Demand, stop: &AtomicBool, engines: &[EngineWeak; 2]) {
    while !stop.load(Ordering::Relaxed) {
        if demand.wait(stop, IDLE_CHECK) {
            std::thread::sleep(EPOCH_TICK);
        }
        let [first, second] = engines;
        match (first.upgrade(), second.upgrade()) {
            (Some(first), Some(second)) => {
                first.increment_epoch();
                second.increment_epoch();
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// A demand of the test's own, so calls of other tests in the process do not count.
    fn demand() -> &'static Demand {
        Box::leak(Box::new(Demand::new()))
    }

    #[test]
    fn the_ticker_waits_while_no_call_is_in_flight() {
        let demand = demand();
        let stop = AtomicBool::new(false);
        assert!(!demand.wait(&stop, Duration::from_millis(20)), "nothing in flight");
        let first = demand.enter();
        let second = demand.enter();
        assert!(demand.wait(&stop, Duration::from_secs(10)), "two calls in flight");
        drop(first);
        assert!(demand.wait(&stop, Duration::from_secs(10)), "one call still in flight");
        drop(second);
        assert!(!demand.wait(&stop, Duration::from_millis(20)), "both calls are over");
    }

    /// Starts `work` on a thread of its own; its result comes on the receiver.
    fn on_a_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
        let (done, result) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(work());
        });
        result
    }

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn a_call_starting_wakes_a_waiting_ticker() {
        let demand = demand();
        let waited = on_a_thread(|| demand.wait(&AtomicBool::new(false), Duration::from_secs(30)));
        let _running = demand.enter();
        assert_eq!(waited.recv_timeout(WAIT), Ok(true), "the waiting ticker saw the call");
    }

    #[test]
    fn a_stopped_ticker_stops_waiting() {
        let demand = demand();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let waited = on_a_thread(move || demand.wait(&flag, Duration::from_secs(30)));
        stop.store(true, Ordering::Relaxed);
        demand.stopped();
        assert_eq!(
            waited.recv_timeout(WAIT),
            Ok(false),
            "woken by the stop, with no call in flight"
        );
    }

    #[test]
    fn the_ticker_ends_with_its_engines() {
        let demand = demand();
        let engine = Engine::default();
        let weak = [engine.weak(), engine.weak()];
        let _running = demand.enter();
        let ended = on_a_thread(move || tick(demand, &AtomicBool::new(false), &weak));
        drop(engine);
        assert_eq!(
            ended.recv_timeout(WAIT),
            Ok(()),
            "the ticker ended although a call is in flight: its engines are gone"
        );
    }
}
