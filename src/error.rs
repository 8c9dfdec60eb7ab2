//! Error values shared by every module: the boxed error used at runner boundaries and
//! [`Joined`], a list of errors reported as one (Go's `errors.Join`).

use std::error::Error;
use std::fmt;

/// The error type runners and heterogeneous members return: any error that can cross
/// threads.
///
/// Anything implementing [`std::error::Error`] + `Send + Sync` converts into it with `?`
/// or `.into()`, and so do `&str` and `String`.
///
/// ```
/// use steadfast::BoxError;
///
/// fn parse(s: &str) -> Result<u32, BoxError> {
///     let n: u32 = s.parse()?;
///     if n == 0 {
///         return Err("zero is not allowed".into());
///     }
///     Ok(n)
/// }
/// assert_eq!(parse("7").unwrap(), 7);
/// assert_eq!(parse("0").unwrap_err().to_string(), "zero is not allowed");
/// ```
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Several errors reported as one, in a stated order (submission order for a group).
///
/// The counterpart of Go's `errors.Join`: it displays every error, one per line, and
/// hands each one back through [`iter`](Joined::iter) or [`into_vec`](Joined::into_vec).
/// A `Joined` is never empty: the constructor that builds it from a list returns `None`
/// for an empty one, so "no errors" is always `Ok`.
///
/// ```
/// use steadfast::Joined;
///
/// let joined = Joined::new(vec!["disk full", "network down"]).unwrap();
/// assert_eq!(joined.len(), 2);
/// assert_eq!(joined.to_string(), "2 errors:\n  disk full\n  network down");
/// assert!(Joined::<&str>::new(vec![]).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined<E> {
    errors: Vec<E>,
}

impl<E> Joined<E> {
    /// Joins `errors`, keeping their order; `None` when the list is empty.
    pub fn new(errors: Vec<E>) -> Option<Self> {
        if errors.is_empty() {
            None
        } else {
            Some(Self { errors })
        }
    }

    /// How many errors were joined (at least one).
    #[allow(clippy::len_without_is_empty)] // never empty by construction
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// The first error in the joined order.
    pub fn first(&self) -> &E {
        &self.errors[0]
    }

    /// Every error, in the joined order.
    pub fn iter(&self) -> std::slice::Iter<'_, E> {
        self.errors.iter()
    }

    /// Gives the errors back, in the joined order.
    pub fn into_vec(self) -> Vec<E> {
        self.errors
    }
}

impl<E> IntoIterator for Joined<E> {
    type Item = E;
    type IntoIter = std::vec::IntoIter<E>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl<'a, E> IntoIterator for &'a Joined<E> {
    type Item = &'a E;
    type IntoIter = std::slice::Iter<'a, E>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl<E: fmt::Display> fmt::Display for Joined<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.errors.as_slice() {
            return write!(f, "{only}");
        }
        write!(f, "{} errors:", self.errors.len())?;
        for error in &self.errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

/// One error is transparent: it displays as that error, and `source` is that error's
/// own `source` (so a chain printer shows it once). Several display as a list, and
/// `source` is the first of them (whose own causes follow it in the chain): a walk that
/// looks for a cause's type finds the first error's. [`iter`](Joined::iter) walks each.
impl<E: Error + 'static> Error for Joined<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self.errors.as_slice() {
            [only] => only.source(),
            _ => Some(self.first()),
        }
    }
}

/// A member error of a generic type `E` (bounded on `Debug + Display`, not `Error`, so
/// that `BoxError` members work: `Box<dyn Error>` is not itself an `Error`) seen as an
/// `Error`, when its type is one known to be one: the boxed error types, `io::Error`,
/// and this crate's own errors over `BoxError` (nested groups, tasks and calls). Stable
/// Rust offers no way to ask an arbitrary `E` whether it is an `Error`.
pub(crate) fn as_error<E: 'static>(error: &E) -> Option<&(dyn Error + 'static)> {
    use std::any::Any;
    let any: &dyn Any = error;
    macro_rules! try_as {
        ($($ty:ty),* $(,)?) => {$(
            if let Some(error) = any.downcast_ref::<$ty>() {
                return Some(error.as_ref());
            }
        )*};
    }
    try_as!(
        Box<dyn Error + Send + Sync>,
        Box<dyn Error + Send>,
        Box<dyn Error>,
        std::sync::Arc<dyn Error + Send + Sync>,
    );
    macro_rules! try_sized {
        ($($ty:ty),* $(,)?) => {$(
            if let Some(error) = any.downcast_ref::<$ty>() {
                return Some(error);
            }
        )*};
    }
    try_sized!(
        std::io::Error,
        crate::GroupError<BoxError>,
        crate::TaskError<BoxError>,
        crate::gen_server::CallError<BoxError>,
        Joined<crate::GroupError<BoxError>>,
    );
    None
}

/// The causes of a member error shown transparently (its message is already in the
/// wrapper's `Display`): its own `source`, when `E` is known to be an error.
pub(crate) fn member_source<E: 'static>(error: &E) -> Option<&(dyn Error + 'static)> {
    as_error(error)?.source()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_error_displays_as_itself() {
        let joined = Joined::new(vec!["only"]).unwrap();
        assert_eq!(joined.to_string(), "only");
    }

    #[test]
    fn keeps_order_and_gives_every_error_back() {
        let joined = Joined::new(vec![3, 1, 2]).unwrap();
        assert_eq!(*joined.first(), 3);
        assert_eq!(joined.iter().copied().collect::<Vec<_>>(), vec![3, 1, 2]);
        assert_eq!(joined.into_vec(), vec![3, 1, 2]);
    }

    #[test]
    fn source_is_the_first_error_of_several() {
        let joined = Joined::new(vec![std::fmt::Error, std::fmt::Error]).unwrap();
        assert!(joined.source().is_some());
    }

    #[derive(Debug)]
    struct ReadingConfig(std::io::Error);

    impl fmt::Display for ReadingConfig {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("reading the config failed")
        }
    }

    impl Error for ReadingConfig {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn one_joined_error_is_transparent() {
        let outer: BoxError = Box::new(ReadingConfig(std::io::Error::other("disk full")));
        let joined = Joined::new(vec![crate::GroupError::Failed(outer)]).unwrap();
        assert_eq!(joined.to_string(), "reading the config failed");
        // The chain goes straight to the cause, not to a second copy of the error.
        assert_eq!(joined.source().unwrap().to_string(), "disk full");
        let joined = Joined::new(vec![std::fmt::Error]).unwrap();
        assert!(joined.source().is_none());
    }
}
