//! Messages of other types than `Call` and `Cast`: OTP's `handle_info`, one trait impl
//! per message type, delivered through the server's one mailbox.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use super::{Context, GenServer};

/// Handles messages of type `M` that are neither the server's calls nor its casts (OTP's
/// `handle_info`): a timer of another type, an event forwarded from a stream or a
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

/// Hands a type-erased message to `handle_info` for its type.
type Dispatch<G> =
    for<'a> fn(&'a mut G, Box<dyn Any + Send>, &'a mut Context<G>) -> Handled<'a, <G as GenServer>::Error>;

/// An info message on its way: the message, type-erased so that one mailbox carries
/// every type, and the function that hands it to the right `handle_info`.
pub(crate) struct Info<G: GenServer> {
    message: Box<dyn Any + Send>,
    dispatch: Dispatch<G>,
}

impl<G: GenServer> Info<G> {
    pub(crate) fn new<M: Send + 'static>(message: M) -> Self
    where
        G: HandleInfo<M>,
    {
        Self {
            message: Box::new(message),
            dispatch: dispatch::<G, M>,
        }
    }

    /// The message back, for a send that was refused.
    pub(crate) fn into_message<M: 'static>(self) -> M {
        *self
            .message
            .downcast::<M>()
            .expect("an info is only taken back as the type it was made from")
    }

    /// Runs the server's `handle_info` for this message.
    pub(crate) fn handle<'a>(self, server: &'a mut G, ctx: &'a mut Context<G>) -> Handled<'a, G::Error> {
        (self.dispatch)(server, self.message, ctx)
    }
}

fn dispatch<'a, G, M>(
    server: &'a mut G,
    message: Box<dyn Any + Send>,
    ctx: &'a mut Context<G>,
) -> Handled<'a, G::Error>
where
    G: HandleInfo<M>,
    M: Send + 'static,
{
    let message = *message
        .downcast::<M>()
        .expect("an info is dispatched as the type it was made from");
    Box::pin(server.handle_info(message, ctx))
}
