//! The process-wide pool: [`init_global_pool`], [`global_pool`], [`shutdown_global_pool`].

use std::sync::Mutex;

use super::error::GlobalPoolError;
use super::pool::{ThreadPool, ThreadPoolBuilder};

static GLOBAL: Mutex<Option<ThreadPool>> = Mutex::new(None);

/// Builds the global pool from `builder` and installs it.
///
/// ```
/// use steadfast::taskrunner::{global_pool, init_global_pool, shutdown_global_pool, ThreadPool};
///
/// init_global_pool(ThreadPool::builder().name("global").workers(2))?;
/// let pool = global_pool()?;
/// pool.post_task(|| ())?;
/// assert!(shutdown_global_pool()); // joins its threads
/// assert!(global_pool().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`GlobalPoolError::AlreadyInitialized`] when a global pool is installed (the builder is
/// not used), [`GlobalPoolError::Build`] when building fails.
pub fn init_global_pool(builder: ThreadPoolBuilder) -> Result<ThreadPool, GlobalPoolError> {
    let mut global = GLOBAL.lock().unwrap_or_else(|p| p.into_inner());
    if global.is_some() {
        return Err(GlobalPoolError::AlreadyInitialized);
    }
    let pool = builder.build()?;
    *global = Some(pool.clone());
    Ok(pool)
}

/// A handle to the global pool.
///
/// # Errors
///
/// [`GlobalPoolError::NotInitialized`] before [`init_global_pool`] or after
/// [`shutdown_global_pool`].
pub fn global_pool() -> Result<ThreadPool, GlobalPoolError> {
    GLOBAL
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or(GlobalPoolError::NotInitialized)
}

/// Uninstalls the global pool, shuts it down and joins its threads (see
/// [`ThreadPool::shutdown`]). Returns false when there was none. A later
/// [`init_global_pool`] may install a new one.
pub fn shutdown_global_pool() -> bool {
    let pool = GLOBAL.lock().unwrap_or_else(|p| p.into_inner()).take();
    match pool {
        Some(pool) => {
            pool.shutdown();
            true
        }
        None => false,
    }
}
