//! Typed requests: one reply type per request type, on the server's one mailbox.

use std::future::Future;

use super::{Context, GenServer};

/// Answers requests of type `M` with a reply of type [`Response`](HandleRequest::Response)
/// that follows the request's type (kameo's `Message<T>` with its `type Reply`, ractor's
/// `RpcReplyPort<T>`): implement it once per request type, and
/// [`Server::request`](super::Server::request) returns that type, with no reply enum to
/// match at run time. Its fire-and-forget twin is [`HandleInfo`](super::HandleInfo) with
/// [`Server::info`](super::Server::info) (a typed cast).
///
/// A typed request is a call in all but its type: it goes through the same mailbox, in
/// the same order as calls, casts and infos, waits at most the handle's timeout,
/// answers [`CallError::CallingSelf`](super::CallError::CallingSelf) from the server's own
/// handlers, and its handler's error or panic stops the server as `handle_call`'s do
/// (that caller gets [`CallError::Failed`](super::CallError::Failed) /
/// [`CallError::Panicked`](super::CallError::Panicked)). A request left queued at a stop
/// is counted in [`dropped`](super::Server::dropped) and its caller gets
/// [`CallError::Stopped`](super::CallError::Stopped).
///
/// ```
/// use steadfast::gen_server::{Context, GenServer, HandleRequest};
///
/// #[derive(Default)]
/// struct Inventory { items: Vec<String> }
///
/// struct Add(String);   // replies with the new count
/// struct List;          // replies with the items
///
/// impl GenServer for Inventory {
///     type Call = ();   // no request-enum protocol: everything is typed
///     type Reply = ();
///     type Cast = ();
///     type Error = std::convert::Infallible;
///     async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), Self::Error> {
///         Ok(())
///     }
/// }
///
/// impl HandleRequest<Add> for Inventory {
///     type Response = usize;
///     async fn handle_request(&mut self, Add(item): Add, _: &mut Context<Self>) -> Result<usize, Self::Error> {
///         self.items.push(item);
///         Ok(self.items.len())
///     }
/// }
///
/// impl HandleRequest<List> for Inventory {
///     type Response = Vec<String>;
///     async fn handle_request(&mut self, List: List, _: &mut Context<Self>) -> Result<Vec<String>, Self::Error> {
///         Ok(self.items.clone())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let inventory = Inventory::default().start().await.unwrap();
/// let count: usize = inventory.request(Add("bolt".into())).await.unwrap();
/// assert_eq!(count, 1);
/// let items: Vec<String> = inventory.request(List).await.unwrap();
/// assert_eq!(items, ["bolt"]);
/// # }
/// ```
pub trait HandleRequest<M: Send + 'static>: GenServer {
    /// What a request of type `M` is answered with.
    type Response: Send + 'static;

    /// Answers one request.
    ///
    /// # Errors
    ///
    /// An error stops the server; the caller receives it as
    /// [`CallError::Failed`](super::CallError::Failed), as from
    /// [`handle_call`](GenServer::handle_call).
    fn handle_request(
        &mut self,
        request: M,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<Self::Response, Self::Error>> + Send;
}
