//! Bounded HTTP/1.1 serving, shared by the gateway's port and mock-smev: an accept loop that holds one permit of a
//! semaphore per open connection, hyper's HTTP/1.1 connection driver with a header-read timeout, an idle timeout
//! watched per connection, and a shutdown that drains connections for a bounded grace period.
//!
//! Why each policy sits where it does:
//! - **Connection limit, in the accept loop**: a permit is taken *before* `accept`, so a connection over the limit
//!   is never accepted: it waits in the kernel's listen backlog (costing this process no file descriptor) until an
//!   open connection closes. File descriptors stay available for the state directory's files, whose fsync must
//!   not fail for want of one.
//! - **Header-read timeout, in hyper**: hyper starts the clock when it begins waiting for a request head (on a new
//!   connection and between keep-alive requests) and closes the connection when the head is not complete in time,
//!   so a client that trickles its headers (slowloris) holds a permit for at most this long.
//! - **Idle timeout, around each connection**: a connection on which nothing was read or written for this long,
//!   with no request being answered, is closed; a keep-alive connection costs a permit only while it is used.
//! - **Body limits** are the application's (the gateway's router, mock-smev's SOAP reader), since only it knows how
//!   to refuse: mock-smev must answer with a SOAP fault.
//!
//! Only HTTP/1.1 is served: both servers' clients (SMEV clients, probes, scrapers, operators' tools) speak it, and
//! HTTP/2 would add a second protocol's limits to get right for no caller.
#![forbid(unsafe_code)]

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How a server bounds the connections it serves. Every field is a configuration key of the server using it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a client may take to send a complete request head, counted from when the server starts waiting
    /// for it; a slow or silent client is disconnected after this.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with nothing read or written and no request being answered.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the kernel's listen backlog until one closes.
    pub max_connections: usize,
    /// How long shutdown lets calls in progress finish before closing their connections.
    pub grace: Duration,
    /// Whether a client that shuts its sending side after its request still gets the answer (mock-smev: a
    /// truncated body gets its SOAP fault).
    pub half_close: bool,
}

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 256,
            grace: Duration::from_secs(5),
            half_close: false,
        }
    }
}

/// What an accept loop has done, for tests and logs.
#[derive(Debug, Default)]
pub struct ServeStats {
    /// Connections open now.
    pub open: AtomicUsize,
    /// The most connections open at once since the start: never above the limit.
    pub peak: AtomicUsize,
    /// Connections accepted since the start.
    pub accepted: AtomicU64,
    /// Connections closed by the idle timeout.
    pub closed_idle: AtomicU64,
}

/// Serves `listener` with a service from `make_service` per connection until `shutdown` completes; then stops
/// accepting, lets calls in progress finish within `limits.grace` and closes what is left.
///
/// The service's errors close the connection without an answer (mock-smev's fault injection uses that).
pub async fn serve<S, B>(
    listener: TcpListener,
    limits: ServeLimits,
    stats: Arc<ServeStats>,
    make_service: impl Fn() -> S,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).half_close(limits.half_close);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        // The permit first: a connection over the limit stays in the kernel's backlog, not in this process.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like pass; the listener itself stays good.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked { inner: stream, activity: activity.clone() });
        let connection = http.serve_connection(io, Counted { inner: make_service(), activity: activity.clone() });
        let (stats, stop, idle) = (stats.clone(), stop_rx.clone(), limits.idle_timeout);
        connections.spawn(async move {
            let open = stats.open.fetch_add(1, Ordering::Relaxed) + 1;
            stats.peak.fetch_max(open, Ordering::Relaxed);
            drive(connection, &activity, idle, stop, &stats).await;
            tracing::trace!(%peer, "connection closed");
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(connections = connections.len(), "shutting down: draining connections");
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.grace, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!(grace = ?limits.grace, "grace period over: closing the remaining connections");
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Drives one connection until it ends (the client closed it, hyper did: header-read timeout, protocol error, or
/// shutdown drained it), closing it when idle for `idle`, which it counts in `stats` before the socket closes (a
/// client that sees the close finds it counted), and winding it down at shutdown.
async fn drive<C>(
    connection: C,
    activity: &Activity,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
    stats: &ServeStats,
) where
    C: Future<Output = Result<(), hyper::Error>> + GracefulConnection,
{
    let mut connection = pin!(connection);
    let mut stopping = false;
    loop {
        // While a request is being answered the connection is not idle, however long the answer takes: look again
        // one idle period later (the answer's end counts as activity).
        let check = match activity.in_flight() {
            0 => activity.last() + idle,
            _ => Instant::now() + idle,
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection closed with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(check) => {
                if activity.idle_for(idle) {
                    // Counted while the connection is still open: it closes when `drive` returns.
                    stats.closed_idle.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() && !activity.ever_read() && activity.in_flight() == 0 {
                    // Never sent a byte: nothing to finish, and hyper would wait for its first request.
                    return;
                }
                connection.as_mut().shut_down_gracefully();
            }
        }
    }
}

/// A connection that can be asked to finish its request in progress and close.
trait GracefulConnection {
    /// Stops keep-alive: an idle connection closes now, a busy one after its answer.
    fn shut_down_gracefully(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    fn shut_down_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// When a connection last moved bytes and how many of its requests are being answered.
#[derive(Debug)]
struct Activity {
    /// The connection's start, the origin of `last_ms`.
    start: Instant,
    /// Milliseconds from `start` to the last read or write that moved bytes.
    last_ms: AtomicU64,
    /// Requests whose answer is being computed.
    in_flight: AtomicUsize,
    /// Whether any byte was ever read.
    read_any: AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            read_any: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(now, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    fn idle_for(&self, idle: Duration) -> bool {
        self.in_flight() == 0 && Instant::now() >= self.last() + idle
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    fn ever_read(&self) -> bool {
        self.read_any.load(Ordering::Relaxed)
    }
}

/// The socket, noting in [`Activity`] every read and write that moves bytes.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_any.store(true, Ordering::Relaxed);
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The application's service, counting the requests it is answering so that the idle timeout spares them.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// One request being answered; dropped when its answer is ready (or the call abandoned).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

impl<S, B> Service<Request<Incoming>> for Counted<S>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, S::Error>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(self.activity.clone());
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answered = answer.await;
            drop(guard);
            answered
        })
    }
}

/// Watches SIGINT and SIGTERM from the moment it is called, and returns a future that completes on the first of
/// them. The handlers are installed here, not when the future is first polled: a server prints its "listening"
/// line before it polls, and a supervisor (or a test) that sends SIGTERM as soon as it reads that line must stop
/// the server gracefully, not kill it by the signal's default action.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("signal received: shutting down");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A service that answers `ok` after `delay`.
    fn slow_ok(delay: Duration) -> hyper_util::service::TowerToHyperService<axum::Router> {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(move || async move {
                tokio::time::sleep(delay).await;
                "ok"
            }),
        );
        hyper_util::service::TowerToHyperService::new(app)
    }

    async fn start(limits: ServeLimits, delay: Duration) -> (std::net::SocketAddr, Arc<ServeStats>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let stats = Arc::new(ServeStats::default());
        tokio::spawn(serve(listener, limits, stats.clone(), move || slow_ok(delay), std::future::pending()));
        (addr, stats)
    }

    async fn get(stream: &mut TcpStream) -> String {
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let mut answer = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut answer))
            .await
            .expect("answered within the hang guard")
            .expect("read");
        String::from_utf8_lossy(&answer[..n]).into_owned()
    }

    #[tokio::test]
    async fn an_answer_slower_than_the_idle_timeout_is_not_cut() {
        let limits = ServeLimits { idle_timeout: Duration::from_millis(50), ..ServeLimits::default() };
        let (addr, stats) = start(limits, Duration::from_millis(300)).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let answer = get(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "then closed when idle");
        assert_eq!(stats.closed_idle.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn connections_over_the_limit_wait_for_a_free_one() {
        let limits =
            ServeLimits { max_connections: 2, idle_timeout: Duration::from_millis(100), ..ServeLimits::default() };
        let (addr, stats) = start(limits, Duration::ZERO).await;
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(TcpStream::connect(addr).await.expect("connect"));
        }
        let mut last = held.pop().expect("six");
        assert!(get(&mut last).await.starts_with("HTTP/1.1 200"), "served once earlier ones idled out");
        assert!(stats.peak.load(Ordering::Relaxed) <= 2, "{:?}", stats);
        assert!(stats.accepted.load(Ordering::Relaxed) >= 6);
    }
}
