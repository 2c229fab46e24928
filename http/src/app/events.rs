//! The log as the auditor reads it: a page of events after a seq, and a live follower of the
//! events to come, each envelope with its decoded domain event.

use motcua_engine::log::Subscription;

use crate::app::decode::LoggedEvent;
use crate::app::error::AppError;
use crate::app::handle::App;

/// A page of the log.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<LoggedEvent>,
    /// The log's head when the page was read.
    pub head_seq: u64,
}

/// Follows the log live from a seq.
pub struct Follower {
    sub: Subscription,
}

impl Follower {
    /// The next event (waiting for it); `None` once the log closes.
    pub async fn next(&mut self) -> Option<LoggedEvent> {
        self.sub.next().await.ok().map(LoggedEvent::new)
    }
}

/// The log reads of an [`App`].
pub struct Events<'a> {
    app: &'a App,
}

impl App {
    /// The log, read.
    pub fn events(&self) -> Events<'_> {
        Events { app: self }
    }
}

impl Events<'_> {
    /// At most `limit` events with seq > `after`.
    pub fn page(&self, after: u64, limit: usize) -> Result<EventPage, AppError> {
        let envs = self.app.log().read_all(after, limit)?;
        Ok(EventPage {
            events: envs.into_iter().map(LoggedEvent::new).collect(),
            head_seq: self.app.log().head().seq,
        })
    }

    /// The events with seq > `after`, as they come.
    pub fn follow(&self, after: u64) -> Follower {
        Follower {
            sub: self.app.log().subscribe(after),
        }
    }
}
