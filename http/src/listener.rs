//! The server's door: how many connections it holds and how long an idle one may stay.
//!
//! Connections cost file descriptors, and the log needs file descriptors too (sled's data file,
//! new blob files, the directory syncs of a flush, a backup's archive). Without a bound, a few
//! hundred idle sockets exhausted the process's limit and the next flush failed. So:
//! - at start the soft limit on open files is raised to the hard one ([`raise_fd_limit`]);
//! - the door holds at most [`connection_cap`] connections, which leaves [`FD_RESERVE`]
//!   descriptors to the log whatever clients do; beyond the cap it stops accepting (the
//!   kernel's backlog queues) until one closes;
//! - a connection that neither sends nor receives a byte for the idle timeout is closed: an
//!   idle keep-alive, a client that connected and sent nothing, a stalled upload
//!   ([`GuardedStream`]). Handlers answer in seconds (the read-your-writes wait is bounded), so
//!   only a peer that stopped talking meets it.
//! - an accept that fails for want of descriptors is retried after a pause, never fatal.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// File descriptors kept from clients for the log, the data directory and the process itself.
pub const FD_RESERVE: u64 = 256;

/// The fewest connections the door admits, however low the descriptor limit.
pub const MIN_CONNECTIONS: usize = 16;

/// Pause before accepting again after the process ran out of descriptors.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Raises the soft limit on open files to the hard limit; returns the limit now in force
/// (`None` where it cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    // `rlim_t` is `u64` on 64-bit Linux but not on every target.
    #[allow(clippy::unnecessary_cast)]
    Some(lim.rlim_cur as u64)
}

/// The connections the door may hold: the configured maximum, lowered so that
/// [`FD_RESERVE`] descriptors always stay for the log (never below [`MIN_CONNECTIONS`]).
pub fn connection_cap(configured: usize, fd_limit: Option<u64>) -> usize {
    let by_fds = fd_limit
        .map(|l| l.saturating_sub(FD_RESERVE))
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    configured.min(by_fds).max(MIN_CONNECTIONS)
}

/// A TCP listener that holds at most a fixed number of connections.
pub struct Door {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    idle_timeout: Duration,
}

impl Door {
    pub fn new(listener: TcpListener, cap: usize, idle_timeout: Duration) -> Door {
        Door {
            listener,
            permits: Arc::new(Semaphore::new(cap)),
            idle_timeout,
        }
    }
}

impl Listener for Door {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GuardedStream, SocketAddr) {
        // The semaphore is never closed, so acquiring fails only if it were: then admit no one.
        let permit = loop {
            match self.permits.clone().acquire_owned().await {
                Ok(p) => break p,
                Err(_) => std::future::pending::<()>().await,
            }
        };
        loop {
            match self.listener.accept().await {
                Ok((io, addr)) => {
                    let _ = io.set_nodelay(true);
                    return (GuardedStream::new(io, permit, self.idle_timeout), addr);
                }
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // EMFILE/ENFILE and the like: wait for descriptors to come back.
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The client's address, as handlers see it (`ConnectInfo<Peer>`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, Door>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Door>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// A connection that closes itself when no byte has moved either way for the idle timeout, and
/// gives its place at the door back when dropped.
pub struct GuardedStream {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
    idle_timeout: Duration,
    last_activity: Instant,
    idle: Pin<Box<Sleep>>,
}

impl GuardedStream {
    fn new(io: TcpStream, permit: OwnedSemaphorePermit, idle_timeout: Duration) -> GuardedStream {
        let now = Instant::now();
        GuardedStream {
            io,
            _permit: permit,
            idle_timeout,
            last_activity: now,
            idle: Box::pin(tokio::time::sleep_until(now + idle_timeout)),
        }
    }

    fn touched(&mut self) {
        self.last_activity = Instant::now();
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.touched();
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                let deadline = self.last_activity + self.idle_timeout;
                if self.idle.deadline() != deadline {
                    self.idle.as_mut().reset(deadline);
                }
                match self.idle.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle for too long",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = r {
            if n > 0 {
                self.touched();
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            if n > 0 {
                self.touched();
            }
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_the_reserve_to_the_log() {
        assert_eq!(connection_cap(4096, Some(300)), 44);
        assert_eq!(connection_cap(4096, Some(1024)), 768);
        assert_eq!(connection_cap(500, Some(1_048_576)), 500);
        assert_eq!(connection_cap(500, None), 500);
        assert_eq!(connection_cap(500, Some(100)), MIN_CONNECTIONS);
    }
}
