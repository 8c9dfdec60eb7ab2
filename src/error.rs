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

impl<E: Error + 'static> Error for Joined<E> {
    /// The first error: tools that walk `source()` chains see at least one cause.
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.first())
    }
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
    fn source_is_the_first_error() {
        let joined = Joined::new(vec![std::fmt::Error, std::fmt::Error]).unwrap();
        assert!(joined.source().is_some());
    }
}
