//! `--timeout`: a bound on the whole run that still yields a report.
//!
//! A pipeline that kills a hung scan loses every finding, because reports
//! are written at the end. With `--timeout` the scan runs on a worker
//! thread while the main thread waits with a deadline; when it passes, the
//! main thread writes the partial report from what the collector holds —
//! findings so far, every input still in progress as an error, and one
//! error saying the run timed out — and the process exits 2, which ends
//! the worker wherever it was blocked (a pipe that never closes, a stalled
//! download).

use std::sync::mpsc;

use anyhow::Result;
use strata_sources::Collector;

use crate::args::Timeout;

/// The `path` of the error saying the run timed out.
pub const TIMEOUT_PATH: &str = "--timeout";

/// Runs `work`; with a timeout, on a worker thread. If the timeout passes
/// first, `on_timeout` writes the partial report and the process exits
/// with the code it returns (2: the report is incomplete), or 2 after
/// printing its error. `work` is never waited for after that.
pub fn run_until<T: Send>(
    timeout: Option<&Timeout>,
    work: impl FnOnce() -> T + Send,
    on_timeout: impl FnOnce() -> Result<i32>,
) -> T {
    let Some(timeout) = timeout else {
        return work();
    };
    std::thread::scope(|scope| {
        let (done, finished) = mpsc::channel();
        scope.spawn(move || {
            let _ = done.send(work());
        });
        match finished.recv_timeout(timeout.limit) {
            Ok(value) => value,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let code = match on_timeout() {
                    Ok(code) => code.max(2),
                    Err(err) => {
                        let message = format!("{err:#}");
                        eprintln!("strata: error: {}", strata_report::printable(&message));
                        2
                    }
                };
                // Leaving the scope would join the worker, which may never
                // return: end the process here.
                std::process::exit(code)
            }
            // The worker panicked (the scope re-raises its panic too).
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the scan thread failed"),
        }
    })
}

/// Records in `collector` what a timeout left unfinished: each input in
/// progress, and the run itself.
pub fn record_timeout(collector: &Collector, timeout: &Timeout) {
    for input in collector.unfinished() {
        collector.problem(
            input,
            format!("not finished: --timeout {} expired", timeout.spelled),
        );
    }
    collector.problem(TIMEOUT_PATH, timeout_message(timeout));
}

/// The report of a run whose `--timeout` passed: what was found so far,
/// and what was not finished, as errors.
pub fn partial_report(
    matcher: &strata_engine::Matcher,
    collector: &Collector,
    started: std::time::Instant,
    args: &crate::args::OutputArgs,
) -> Result<strata_report::Report> {
    let timeout = args.timeout.timeout.as_ref().expect("a timeout passed");
    record_timeout(collector, timeout);
    crate::output::build_report(
        matcher,
        collector,
        started,
        args,
        strata_report::Summary::default(),
    )
}

/// The overall error of a timed-out run.
pub fn timeout_message(timeout: &Timeout) -> String {
    format!(
        "the run timed out after --timeout {}; this report holds only what was found before",
        timeout.spelled
    )
}
