//! Command-line flags of the queue service.

use std::time::Duration;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub messages: u64,
    pub workers: usize,
    pub malformed_ratio: f64,
    pub invalid_ratio: f64,
    pub slow_ratio: f64,
    pub seed: u64,
    /// Parser restarts tolerated per minute before the parser pool gives up.
    pub max_restarts: u32,
    pub report_every: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            messages: 100_000,
            workers: 4,
            malformed_ratio: 0.05,
            invalid_ratio: 0.02,
            slow_ratio: 0.001,
            seed: 42,
            max_restarts: 20_000,
            report_every: Duration::from_millis(200),
        }
    }
}

const USAGE: &str = "usage: queue_service [--messages N] [--workers W] [--malformed-ratio R] \
[--invalid-ratio R] [--slow-ratio R] [--seed S] [--max-restarts N]";

impl Config {
    /// Parses `args` (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut config = Config::default();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.to_owned());
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}\n{USAGE}");
            match flag.as_str() {
                "--messages" => config.messages = value.parse().map_err(|e| bad(&e))?,
                "--workers" => config.workers = value.parse().map_err(|e| bad(&e))?,
                "--malformed-ratio" => config.malformed_ratio = ratio(&value).map_err(|e| bad(&e))?,
                "--invalid-ratio" => config.invalid_ratio = ratio(&value).map_err(|e| bad(&e))?,
                "--slow-ratio" => config.slow_ratio = ratio(&value).map_err(|e| bad(&e))?,
                "--seed" => config.seed = value.parse().map_err(|e| bad(&e))?,
                "--max-restarts" => config.max_restarts = value.parse().map_err(|e| bad(&e))?,
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        if config.workers == 0 {
            return Err(format!("--workers must be at least 1\n{USAGE}"));
        }
        if config.malformed_ratio + config.invalid_ratio + config.slow_ratio > 1.0 {
            return Err(format!("the ratios add up to more than 1\n{USAGE}"));
        }
        Ok(config)
    }
}

fn ratio(value: &str) -> Result<f64, String> {
    let r: f64 = value.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err("a ratio is between 0 and 1".to_owned())
    }
}
