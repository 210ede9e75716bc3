//! Two small runtime-neutral primitives: a one-shot broadcast signal and a
//! counter of live tasks that can be awaited down to zero.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};

use futures_channel::oneshot;
use futures_util::future::{FutureExt, Shared};

/// Set once, awaited by many (every connection task, the accept loop).
#[derive(Debug, Clone)]
pub(crate) struct Signal {
    inner: Arc<SignalInner>,
    wait: Shared<oneshot::Receiver<()>>,
}

#[derive(Debug)]
struct SignalInner {
    set: AtomicBool,
    trigger: Mutex<Option<oneshot::Sender<()>>>,
}

impl Signal {
    pub(crate) fn new() -> Signal {
        let (tx, rx) = oneshot::channel();
        Signal {
            inner: Arc::new(SignalInner {
                set: AtomicBool::new(false),
                trigger: Mutex::new(Some(tx)),
            }),
            wait: rx.shared(),
        }
    }

    /// Sets the signal; returns whether this call set it.
    pub(crate) fn set(&self) -> bool {
        if self.inner.set.swap(true, Ordering::SeqCst) {
            return false;
        }
        let tx = self
            .inner
            .trigger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
        true
    }

    pub(crate) fn is_set(&self) -> bool {
        self.inner.set.load(Ordering::SeqCst)
    }

    /// Completes once the signal is set.
    pub(crate) fn wait(&self) -> impl Future<Output = ()> + Send + 'static + use<> {
        self.wait.clone().map(|_| ())
    }
}

/// Counts live tasks; [`WaitGroup::idle`] completes when none is left, for
/// every waiter (a server's shutdown and an embedder's may wait at once).
#[derive(Debug, Clone, Default)]
pub(crate) struct WaitGroup {
    inner: Arc<WaitInner>,
}

#[derive(Debug, Default)]
struct WaitInner {
    count: AtomicUsize,
    /// One per waiting task (a task polling again replaces nothing).
    wakers: Mutex<Vec<Waker>>,
}

impl WaitInner {
    fn wakers(&self) -> std::sync::MutexGuard<'_, Vec<Waker>> {
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Held by a live task; dropping it counts the task out.
#[derive(Debug)]
pub(crate) struct WaitGuard {
    inner: Arc<WaitInner>,
}

impl WaitGroup {
    pub(crate) fn enter(&self) -> WaitGuard {
        self.inner.count.fetch_add(1, Ordering::SeqCst);
        WaitGuard {
            inner: self.inner.clone(),
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.inner.count.load(Ordering::SeqCst)
    }

    pub(crate) fn idle(&self) -> impl Future<Output = ()> + Send + 'static + use<> {
        let inner = self.inner.clone();
        std::future::poll_fn(move |cx| {
            let idle = || inner.count.load(Ordering::SeqCst) == 0;
            if idle() {
                return Poll::Ready(());
            }
            let mut wakers = inner.wakers();
            if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                wakers.push(cx.waker().clone());
            }
            // The last guard may have gone between the check and the
            // registration (it drains the wakers under the same lock).
            if idle() {
                wakers.retain(|w| !w.will_wake(cx.waker()));
                return Poll::Ready(());
            }
            Poll::Pending
        })
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        if self.inner.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            let wakers = std::mem::take(&mut *self.inner.wakers());
            for w in wakers {
                w.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn signal_completes_every_waiter_once_set() {
        let s = Signal::new();
        let mut a = Box::pin(s.wait());
        let mut b = Box::pin(s.clone().wait());
        assert!(a.as_mut().now_or_never().is_none());
        assert!(s.set());
        assert!(!s.set());
        assert!(s.is_set());
        assert!(a.now_or_never().is_some());
        assert!(b.as_mut().now_or_never().is_some());
    }

    #[test]
    fn wait_group_idle_after_last_guard() {
        let wg = WaitGroup::default();
        assert!(wg.idle().now_or_never().is_some());
        let g1 = wg.enter();
        let g2 = wg.enter();
        assert_eq!(wg.count(), 2);
        assert!(Box::pin(wg.idle()).now_or_never().is_none());
        drop(g1);
        assert!(Box::pin(wg.idle()).now_or_never().is_none());
        drop(g2);
        assert!(wg.idle().now_or_never().is_some());
    }

    /// Found in review: with one waker slot, a second waiter replaced the
    /// first, which then slept until its deadline (the shutdown grace).
    #[test]
    fn wait_group_wakes_every_waiter() {
        use std::sync::atomic::AtomicUsize;
        use std::task::{Context, Wake, Waker};
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let wg = WaitGroup::default();
        let guard = wg.enter();
        let counts: Vec<Arc<Count>> = (0..2)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        let mut waiters: Vec<_> = (0..2).map(|_| Box::pin(wg.idle())).collect();
        for (w, c) in waiters.iter_mut().zip(&counts) {
            let waker = Waker::from(c.clone());
            assert!(
                w.as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            );
        }
        drop(guard);
        for c in &counts {
            assert_eq!(c.0.load(Ordering::SeqCst), 1, "each waiter is woken");
        }
    }
}
