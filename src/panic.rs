//! Caught panics as values: [`Panic`] keeps the message and the original payload, and
//! the crate-internal [`CatchPanic`] future turns a panicking poll into a `Panic`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

/// A panic caught in user code, kept as a value.
///
/// steadfast never lets a panic in a member, task, handler or child take the process
/// down, and never swallows it either: it becomes a `Panic`, which keeps the panic
/// message (for `&str` and `String` payloads, which is what `panic!` produces) and the
/// original payload, so the owner can report it or re-raise it with
/// [`resume`](Panic::resume).
///
/// `Panic` implements [`std::error::Error`] and is `Send + Sync`, so it fits in any
/// error type.
///
/// ```
/// use steadfast::Panic;
///
/// let offset = 7;
/// let caught = Panic::catch(|| -> u32 { panic!("bad payload {offset}") }).unwrap_err();
/// assert_eq!(caught.message(), "bad payload 7");
/// assert_eq!(caught.to_string(), "panicked: bad payload 7");
///
/// // Re-raise it where the owner decides a panic must stay a panic.
/// let again = std::panic::catch_unwind(move || caught.resume()).unwrap_err();
/// assert_eq!(again.downcast_ref::<String>().map(String::as_str), Some("bad payload 7"));
/// ```
pub struct Panic {
    message: String,
    // A Mutex makes the `Send`-only payload `Sync`; it is taken at most once.
    payload: Mutex<Option<Box<dyn Any + Send + 'static>>>,
}

impl Panic {
    /// Wraps a payload caught by [`std::panic::catch_unwind`].
    pub fn from_payload(payload: Box<dyn Any + Send + 'static>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "<non-string panic payload>".to_owned()
        };
        Self {
            message,
            payload: Mutex::new(Some(payload)),
        }
    }

    /// Runs `f`, turning a panic into `Err(Panic)`.
    ///
    /// ```
    /// use steadfast::Panic;
    /// assert_eq!(Panic::catch(|| 2 + 2).unwrap(), 4);
    /// assert!(Panic::catch(|| panic!("no")).is_err());
    /// ```
    pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
        catch_unwind(AssertUnwindSafe(f)).map_err(Panic::from_payload)
    }

    /// The panic message, or `<non-string panic payload>` when the payload was neither
    /// `&str` nor `String`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The original payload, to downcast or to hand to
    /// [`std::panic::resume_unwind`] yourself.
    pub fn into_payload(self) -> Box<dyn Any + Send + 'static> {
        let message = self.message;
        self.payload
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .unwrap_or_else(|| Box::new(message))
    }

    /// Re-raises the panic with its original payload, as if it had never been caught.
    ///
    /// # Panics
    ///
    /// Always: that is its purpose.
    pub fn resume(self) -> ! {
        std::panic::resume_unwind(self.into_payload())
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Panic")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked: {}", self.message)
    }
}

impl std::error::Error for Panic {}

pin_project_lite::pin_project! {
    /// A future that catches a panic raised while polling the inner future.
    ///
    /// After a panic the inner future is dropped at once (its state is not trusted) and
    /// the `Panic` is the output.
    pub(crate) struct CatchPanic<F> {
        #[pin]
        inner: Option<F>,
    }
}

impl<F> CatchPanic<F> {
    pub(crate) fn new(inner: F) -> Self {
        Self { inner: Some(inner) }
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.project().inner;
        let Some(future) = inner.as_mut().as_pin_mut() else {
            panic!("CatchPanic polled after completion");
        };
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => {
                // Drop the finished future here, where a panic in its destructor is
                // caught and reported, not in the owner's frame.
                match catch_unwind(AssertUnwindSafe(|| inner.set(None))) {
                    Ok(()) => Poll::Ready(Ok(value)),
                    Err(payload) => Poll::Ready(Err(Panic::from_payload(payload))),
                }
            }
            Err(payload) => {
                // A panic in the broken future's destructor is caught too, so that the
                // owner still gets the first panic's message.
                let _ = catch_unwind(AssertUnwindSafe(|| inner.set(None)));
                Poll::Ready(Err(Panic::from_payload(payload)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_string_and_str_messages() {
        let a = Panic::catch(|| panic!("static")).unwrap_err();
        assert_eq!(a.message(), "static");
        let b = Panic::catch(|| panic!("formatted {}", 1)).unwrap_err();
        assert_eq!(b.message(), "formatted 1");
    }

    #[test]
    fn non_string_payload_is_named_and_kept() {
        let p = Panic::catch(|| std::panic::panic_any(42_u8)).unwrap_err();
        assert_eq!(p.message(), "<non-string panic payload>");
        assert_eq!(p.into_payload().downcast_ref::<u8>(), Some(&42));
    }

    #[test]
    fn is_send_sync_error() {
        fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
        assert_error::<Panic>();
    }

    #[tokio::test]
    async fn catch_panic_future_reports_message() {
        let out = CatchPanic::new(async {
            tokio::task::yield_now().await;
            panic!("inside future");
        })
        .await;
        assert_eq!(out.unwrap_err().message(), "inside future");
        let ok = CatchPanic::new(async { 5 }).await;
        assert_eq!(ok.unwrap(), 5);
    }
}
