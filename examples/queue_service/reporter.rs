//! The stats reporter: a repeating task on its own single-thread task runner, redrawing
//! a progress line when stdout is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use steadfast::taskrunner::{RepeatingTaskHandle, SingleThreadTaskRunner, TaskRunner};

use crate::pipeline::Progress;

/// Stops the repetition, clears the line and joins the reporter's thread when dropped.
pub struct Reporter {
    repeating: RepeatingTaskHandle,
    runner: SingleThreadTaskRunner,
    terminal: bool,
}

/// Starts the reporter: every `every`, it reads the progress counters and, on a
/// terminal, redraws `done/total`.
pub fn start(progress: Arc<Progress>, total: u64, every: Duration) -> Reporter {
    let terminal = std::io::stdout().is_terminal();
    let runner = SingleThreadTaskRunner::new("stats").expect("start the stats thread");
    let repeating = runner
        .post_repeating_task(
            move || {
                let processed = progress.processed.load(Ordering::Relaxed);
                let dead = progress.dead_lettered.load(Ordering::Relaxed);
                if terminal {
                    let done = processed + dead;
                    print!(
                        "\r\x1b[2K{done}/{total} ({:.0}%)  processed={processed} dead_lettered={dead}",
                        100.0 * done as f64 / total.max(1) as f64
                    );
                    let _ = std::io::stdout().flush();
                }
            },
            every,
        )
        .expect("the stats runner is open");
    Reporter {
        repeating,
        runner,
        terminal,
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.repeating.stop();
        if self.terminal {
            let _ = self.runner.post_task(|| {
                print!("\r\x1b[2K");
                let _ = std::io::stdout().flush();
            });
            let _ = self.runner.wait_idle();
        }
        // Dropping the runner joins its thread.
    }
}
