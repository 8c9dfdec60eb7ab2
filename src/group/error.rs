//! Errors of the group module: why a member failed, and the misuses a group refuses.

use std::error::Error;
use std::fmt;

use crate::Panic;

/// Why a group member (or a whole group) failed.
///
/// `E` is the error type the members return. A panic is a failure like any other: it
/// cancels the group and is reported here with its message, never re-raised behind your
/// back (call [`resume_panic`](GroupError::resume_panic) if you want it to stay a panic).
#[non_exhaustive]
pub enum GroupError<E> {
    /// The member returned `Err`.
    Failed(E),
    /// The member panicked; the [`Panic`] keeps the message and payload.
    Panicked(Panic),
    /// The member was aborted before it finished, which only happens when its tokio
    /// runtime shuts down while the group is still waiting.
    Aborted,
    /// The group was configured with an invalid limit (from [`try_map`](crate::try_map)).
    Limit(LimitError),
}

impl<E> GroupError<E> {
    /// Whether the member panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, GroupError::Panicked(_))
    }

    /// The caught panic, if the member panicked.
    pub fn panic(&self) -> Option<&Panic> {
        match self {
            GroupError::Panicked(p) => Some(p),
            _ => None,
        }
    }

    /// The member's own error, if it returned one.
    pub fn failure(&self) -> Option<&E> {
        match self {
            GroupError::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Takes the member's own error, if it returned one.
    pub fn into_failure(self) -> Option<E> {
        match self {
            GroupError::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Re-raises a caught panic with its original payload; any other error is returned
    /// unchanged.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use steadfast::{BoxError, Group};
    ///
    /// let mut group: Group = Group::new();
    /// group.spawn(async { Err::<(), BoxError>("plain error".into()) }).await;
    /// let err = group.wait().await.unwrap_err();
    /// // Not a panic: handed back as it is.
    /// assert_eq!(err.resume_panic().to_string(), "plain error");
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `self` is [`GroupError::Panicked`]: the original panic resumes.
    pub fn resume_panic(self) -> Self {
        match self {
            GroupError::Panicked(p) => p.resume(),
            other => other,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            GroupError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            GroupError::Aborted => f.write_str("Aborted"),
            GroupError::Limit(l) => f.debug_tuple("Limit").field(l).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::Failed(e) => e.fmt(f),
            GroupError::Panicked(p) => write!(f, "group member {p}"),
            GroupError::Aborted => {
                f.write_str("group member was aborted before it finished (its runtime shut down)")
            }
            GroupError::Limit(l) => l.fmt(f),
        }
    }
}

/// Bounded on `Debug + Display` rather than `Error` so that `GroupError<BoxError>` is an
/// error too (`Box<dyn Error>` is not itself an `Error`) and `?` works on it.
///
/// `Failed` is transparent (thiserror's `#[error(transparent)]`): it displays as the
/// member's error, and `source` is that error's own `source`, so a chain printer
/// (anyhow's `{:#}`, `std::error::Report`) shows the member's message once, then its
/// causes. Causes are reached when the member error is a boxed error ([`BoxError`](crate::BoxError)
/// and its kin), an `io::Error`, or one of this crate's errors over `BoxError`; for
/// another concrete type, take it with [`failure`](GroupError::failure) and walk its
/// own `source` (stable Rust cannot ask a generic `E` whether it is an `Error`).
/// `Panicked` and `Limit` show the panic's message and the limit error in their own
/// message and have no further cause (the [`Panic`] is at [`panic`](GroupError::panic)).
///
/// ```
/// use std::error::Error;
/// use std::fmt;
/// use steadfast::{BoxError, Group};
///
/// #[derive(Debug)]
/// struct ReadingConfig(std::io::Error);
/// impl fmt::Display for ReadingConfig {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str("reading the config failed") }
/// }
/// impl Error for ReadingConfig {
///     fn source(&self) -> Option<&(dyn Error + 'static)> { Some(&self.0) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut group: Group = Group::new();
/// group.spawn(async {
///     Err::<(), BoxError>(Box::new(ReadingConfig(std::io::Error::other("disk full"))))
/// }).await;
/// let err = group.wait().await.unwrap_err();
/// assert_eq!(err.to_string(), "reading the config failed");
/// assert_eq!(err.source().unwrap().to_string(), "disk full");
/// # }
/// ```
impl<E: fmt::Debug + fmt::Display + 'static> Error for GroupError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            GroupError::Failed(e) => crate::error::member_source(e),
            // Their message is already in `Display`; a source would print it twice.
            GroupError::Panicked(_) | GroupError::Aborted | GroupError::Limit(_) => None,
        }
    }
}

impl<E> From<LimitError> for GroupError<E> {
    fn from(error: LimitError) -> Self {
        GroupError::Limit(error)
    }
}

/// A limit the group refuses to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A limit of 0 would block every spawn forever (Go's errgroup hangs here; we refuse).
    #[error("a group limit must be at least 1: a limit of 0 would block every spawn forever")]
    Zero,
    /// The limit cannot change while members run (Go's errgroup panics here).
    #[error(
        "cannot change the limit of a group while {active} of its members are still running; \
         wait for them to finish (or use a new group) first"
    )]
    MembersActive {
        /// How many members were running when the change was refused.
        active: usize,
    },
}

/// [`try_spawn`](crate::Group::try_spawn) found the group at its limit; the future is
/// handed back untouched.
pub struct LimitReached<F> {
    /// The future that was not started.
    pub future: F,
    /// The group's limit at the time.
    pub limit: usize,
}

impl<F> LimitReached<F> {
    /// Gives the future back.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F> fmt::Debug for LimitReached<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitReached")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<F> fmt::Display for LimitReached<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the group already runs {} members, its limit; try again when one finishes",
            self.limit
        )
    }
}

impl<F> Error for LimitReached<F> {}

/// A [`Spawner`](crate::group::Spawner) did not start a member; the future is handed
/// back untouched.
#[non_exhaustive]
pub enum SpawnError<F> {
    /// The group has finished (it was waited on), or was shut down or dropped: it takes
    /// no more members.
    Closed(F),
    /// Called outside a tokio runtime (a plain OS thread) when the member had to start
    /// now; nothing changed in the group. Enter the runtime first
    /// (`Handle::enter`), or submit from one of its tasks.
    NoRuntime(F),
    /// The group already runs `limit` members ([`Spawner::try_spawn`](crate::group::Spawner::try_spawn)
    /// only; [`Spawner::spawn`](crate::group::Spawner::spawn) queues instead).
    Full {
        /// The future that was not started.
        future: F,
        /// The group's limit.
        limit: usize,
    },
}

impl<F> SpawnError<F> {
    /// Gives the future back.
    pub fn into_inner(self) -> F {
        match self {
            SpawnError::Closed(future) | SpawnError::NoRuntime(future) | SpawnError::Full { future, .. } => {
                future
            }
        }
    }
}

impl<F> fmt::Debug for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Closed(_) => f.write_str("Closed(..)"),
            SpawnError::NoRuntime(_) => f.write_str("NoRuntime(..)"),
            SpawnError::Full { limit, .. } => f
                .debug_struct("Full")
                .field("limit", limit)
                .finish_non_exhaustive(),
        }
    }
}

impl<F> fmt::Display for SpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Closed(_) => f.write_str(
                "the group has finished or was shut down; it takes no more members (start a new group)",
            ),
            SpawnError::NoRuntime(_) => f.write_str(
                "no tokio runtime here to start the member on; submit from inside the runtime (a task, or `Handle::enter`)",
            ),
            SpawnError::Full { limit, .. } => write!(
                f,
                "the group already runs {limit} members, its limit; try again when one finishes, or use `spawn`, which queues"
            ),
        }
    }
}

impl<F> Error for SpawnError<F> {}
