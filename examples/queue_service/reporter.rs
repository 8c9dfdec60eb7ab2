//! The stats reporter: a progress line, redrawn on a terminal only.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::pipeline::Progress;

/// Stops the reporter when dropped.
pub struct Reporter {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts redrawing `processed/dead-lettered of total` every `every`, when stdout is a
/// terminal; does nothing otherwise.
pub fn start(progress: Arc<Progress>, total: u64, every: Duration) -> Reporter {
    if !std::io::stdout().is_terminal() {
        return Reporter {
            stop: None,
            thread: None,
        };
    }
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
            draw(&progress, total);
        }
        print!("\r\x1b[2K");
        let _ = std::io::stdout().flush();
    });
    Reporter {
        stop: Some(stop),
        thread: Some(thread),
    }
}

fn draw(progress: &Progress, total: u64) {
    let processed = progress.processed.load(Ordering::Relaxed);
    let dead = progress.dead_lettered.load(Ordering::Relaxed);
    let done = processed + dead;
    print!(
        "\r\x1b[2K{done}/{total} ({:.0}%)  processed={processed} dead_lettered={dead}",
        100.0 * done as f64 / total.max(1) as f64
    );
    let _ = std::io::stdout().flush();
}

impl Drop for Reporter {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
