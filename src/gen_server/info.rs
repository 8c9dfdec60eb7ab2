//! Messages of other types than `Call` and `Cast`, one trait impl per message type,
//! delivered through the server's one mailbox: infos (OTP's `handle_info`, no reply)
//! and typed requests ([`HandleRequest`], a reply), as one type-erased message.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use tokio::sync::oneshot;

use super::error::CallError;
use super::{Context, GenServer, HandleRequest};

/// Handles messages of type `M` that are neither the server's calls nor its casts (OTP's
/// `handle_info`), with no reply: the typed cast, twin of the typed request
/// [`HandleRequest`]. A timer of another type, an event forwarded from a stream or a
/// channel, a notice from another part of the program. Implement it once per message
/// type; send with [`Server::info`](super::Server::info), schedule with
/// [`Context::info_after`], or run right after the current handler with
/// [`Context::continue_with`] (OTP's `handle_continue`).
///
/// Infos share the mailbox, the order and the accounting of casts: one at a time, in the
/// order sent, counted in [`dropped`](super::Server::dropped) when left queued at a stop.
///
/// ```
/// use std::time::Duration;
/// use steadfast::gen_server::{Context, GenServer, HandleInfo};
///
/// struct Cache { entries: Vec<String>, flushes: u32 }
/// struct Flush; // a timer message, not part of the public protocol
///
/// impl GenServer for Cache {
///     type Call = ();
///     type Reply = u32;
///     type Cast = String;
///     type Error = std::convert::Infallible;
///     async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
///         ctx.info_after(Flush, Duration::from_secs(10));
///         Ok(())
///     }
///     async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<u32, Self::Error> {
///         Ok(self.flushes)
///     }
///     async fn handle_cast(&mut self, entry: String, _: &mut Context<Self>) -> Result<(), Self::Error> {
///         self.entries.push(entry);
///         Ok(())
///     }
/// }
///
/// impl HandleInfo<Flush> for Cache {
///     async fn handle_info(&mut self, Flush: Flush, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
///         self.entries.clear();
///         self.flushes += 1;
///         ctx.info_after(Flush, Duration::from_secs(10));
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let cache = Cache { entries: Vec::new(), flushes: 0 }.start().await.unwrap();
/// tokio::time::sleep(Duration::from_secs(25)).await;
/// assert_eq!(cache.call(()).await.unwrap(), 2);
/// cache.info(Flush).unwrap(); // anyone holding a handle can send one too
/// assert_eq!(cache.call(()).await.unwrap(), 3);
/// # }
/// ```
pub trait HandleInfo<M: Send + 'static>: GenServer {
    /// Handles one info message.
    ///
    /// # Errors
    ///
    /// An error stops the server, as from [`handle_cast`](GenServer::handle_cast).
    fn handle_info(
        &mut self,
        message: M,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

type Handled<'a, E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send + 'a>>;

/// Hands a type-erased message to the handler for its type (`handle_info` or
/// `handle_request`). The payload stays with the caller of the dispatch (only borrowed),
/// so that a request whose handler failed or panicked can still be answered.
type Dispatch<G> = for<'a> fn(
    &'a mut G,
    &'a mut dyn Payload<<G as GenServer>::Error>,
    &'a mut Context<G>,
) -> Handled<'a, <G as GenServer>::Error>;

/// A message of any type in the mailbox: an info (no reply) or a typed request (with
/// the port its reply goes to).
pub(crate) trait Payload<E>: Send + 'static {
    fn as_any(&mut self) -> &mut (dyn Any + Send);
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
    /// Tells the caller waiting on this request, if any, why it gets no reply.
    fn fail(self: Box<Self>, error: CallError<E>);
}

/// An info's payload: taken out when handled.
struct Note<M>(Option<M>);

impl<M: Send + 'static, E> Payload<E> for Note<M> {
    fn as_any(&mut self) -> &mut (dyn Any + Send) {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
    fn fail(self: Box<Self>, _: CallError<E>) {}
}

/// Where a typed request's reply goes.
pub(crate) type ReplyPort<R, E> = oneshot::Sender<Result<R, CallError<E>>>;

/// A typed request's payload: the request (taken out when handled) and the reply port
/// (taken when the reply is sent; still there when the handler failed or panicked).
struct Ask<M, R, E> {
    message: Option<M>,
    reply: Option<ReplyPort<R, E>>,
}

impl<M: Send + 'static, R: Send + 'static, E: Send + 'static> Payload<E> for Ask<M, R, E> {
    fn as_any(&mut self) -> &mut (dyn Any + Send) {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
    fn fail(self: Box<Self>, error: CallError<E>) {
        if let Some(reply) = self.reply {
            let _ = reply.send(Err(error));
        }
    }
}

/// A message of another type than `Call` and `Cast` on its way: an info, or a typed
/// request with its reply port. Type-erased so that one mailbox carries every type,
/// with the function that hands it to the right handler.
pub(crate) struct Info<G: GenServer> {
    payload: Box<dyn Payload<G::Error>>,
    dispatch: Dispatch<G>,
}

impl<G: GenServer> Info<G> {
    pub(crate) fn new<M: Send + 'static>(message: M) -> Self
    where
        G: HandleInfo<M>,
    {
        Self {
            payload: Box::new(Note(Some(message))),
            dispatch: dispatch_info::<G, M>,
        }
    }

    /// A typed request whose reply goes to `reply`.
    pub(crate) fn request<M: Send + 'static>(
        message: M,
        reply: ReplyPort<<G as HandleRequest<M>>::Response, G::Error>,
    ) -> Self
    where
        G: HandleRequest<M>,
    {
        Self {
            payload: Box::new(Ask {
                message: Some(message),
                reply: Some(reply),
            }),
            dispatch: dispatch_request::<G, M>,
        }
    }

    /// The message back, for a send that was refused.
    pub(crate) fn into_message<M: 'static>(self) -> M {
        self.payload
            .into_any()
            .downcast::<Note<M>>()
            .ok()
            .and_then(|note| note.0)
            .expect("an info is only taken back, unhandled, as the type it was made from")
    }

    /// Runs the server's handler for this message. The payload stays here: after a
    /// failure or a panic, [`fail`](Info::fail) answers a waiting caller.
    pub(crate) fn handle<'a>(
        &'a mut self,
        server: &'a mut G,
        ctx: &'a mut Context<G>,
    ) -> Handled<'a, G::Error> {
        (self.dispatch)(server, &mut *self.payload, ctx)
    }

    /// Tells the caller of a typed request why it gets no reply (nothing for an info).
    pub(crate) fn fail(self, error: CallError<G::Error>) {
        self.payload.fail(error);
    }
}

fn dispatch_info<'a, G, M>(
    server: &'a mut G,
    payload: &'a mut dyn Payload<G::Error>,
    ctx: &'a mut Context<G>,
) -> Handled<'a, G::Error>
where
    G: HandleInfo<M>,
    M: Send + 'static,
{
    let message = payload
        .as_any()
        .downcast_mut::<Note<M>>()
        .and_then(|note| note.0.take())
        .expect("an info is dispatched once, as the type it was made from");
    Box::pin(server.handle_info(message, ctx))
}

fn dispatch_request<'a, G, M>(
    server: &'a mut G,
    payload: &'a mut dyn Payload<G::Error>,
    ctx: &'a mut Context<G>,
) -> Handled<'a, G::Error>
where
    G: HandleRequest<M>,
    M: Send + 'static,
{
    let ask = payload
        .as_any()
        .downcast_mut::<Ask<M, G::Response, G::Error>>()
        .expect("a request is dispatched as the type it was made from");
    let message = ask.message.take().expect("a request is dispatched once");
    Box::pin(async move {
        let response = server.handle_request(message, ctx).await?;
        if let Some(reply) = ask.reply.take() {
            // The caller may have given up (timeout): the late reply is dropped.
            let _ = reply.send(Ok(response));
        }
        Ok(())
    })
}
