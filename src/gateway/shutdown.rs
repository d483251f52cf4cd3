//! Shutdown as a value: every loop of the gateway holds a [`Shutdown`] and either checks it between steps or waits
//! for it beside its own pause, so no loop writes its own `select!` over a channel.
#![forbid(unsafe_code)]

use std::time::Duration;
use tokio::sync::watch;

/// Tells the gateway's tasks to stop; dropping it tells them too.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

/// A task's view of the shutdown; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A trigger and the first view of it.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    /// Tells every task to stop.
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// Whether the gateway is stopping.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when the gateway stops (at once if it already is).
    pub async fn stopped(&mut self) {
        // An error means the trigger is gone, which is a shutdown too.
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Sleeps for `pause` unless the gateway stops first; returns whether it is stopping.
    pub async fn sleep(&mut self, pause: Duration) -> bool {
        if pause.is_zero() {
            return self.is_stopping();
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => self.is_stopping(),
            _ = self.stopped() => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sleeps_end_early_when_the_gateway_stops() {
        let (trigger, mut shutdown) = channel();
        assert!(!shutdown.sleep(Duration::from_secs(1)).await, "a full sleep while running");
        let mut waiting = shutdown.clone();
        let sleeper = tokio::spawn(async move { waiting.sleep(Duration::from_secs(3600)).await });
        tokio::task::yield_now().await;
        trigger.fire();
        assert!(sleeper.await.unwrap());
        assert!(shutdown.is_stopping());
        drop(trigger);
        shutdown.stopped().await;
    }
}
