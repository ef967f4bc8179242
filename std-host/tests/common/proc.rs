//! An interactive child process for the chat and talk tests: stdin kept
//! open and written line by line, stdout and stderr collected by threads
//! and searched with bounded waits; killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// Every wait is bounded by this.
pub const WAIT: Duration = Duration::from_secs(30);

/// A running child with piped stdio.
pub struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    out: Receiver<String>,
    err: Receiver<String>,
    /// Everything read from stdout so far.
    pub out_text: String,
    /// Everything read from stderr so far.
    pub err_text: String,
}

fn pump<R: Read + Send + 'static>(r: R) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx
                        .send(String::from_utf8_lossy(&line).into_owned())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    rx
}

impl Proc {
    /// Spawns `cmd` with all three stdio streams piped.
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let out = pump(child.stdout.take().expect("stdout"));
        let err = pump(child.stderr.take().expect("stderr"));
        Proc {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            out,
            err,
            out_text: String::new(),
            err_text: String::new(),
        }
    }

    /// Writes `text` to the child's stdin.
    pub fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(text.as_bytes())
            .expect("write to child stdin");
        stdin.flush().expect("flush child stdin");
    }

    /// Closes the child's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn drain(&mut self) {
        self.out_text.extend(self.out.try_iter());
        self.err_text.extend(self.err.try_iter());
    }

    fn wait_until(&mut self, what: &str, done: impl Fn(&Proc) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.drain();
            if done(self) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: no {what} within {WAIT:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                    self.name, self.out_text, self.err_text
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until stdout contains `needle`.
    pub fn wait_out(&mut self, needle: &str) {
        self.wait_until(&format!("{needle:?} on stdout"), |p| {
            p.out_text.contains(needle)
        });
    }

    /// Waits until stdout contains `needle` `n` times.
    pub fn wait_out_count(&mut self, needle: &str, n: usize) {
        let what = format!("{n} x {needle:?} on stdout");
        self.wait_until(&what, |p| p.out_text.matches(needle).count() >= n);
    }

    /// Waits until stderr contains `needle`.
    pub fn wait_err(&mut self, needle: &str) {
        self.wait_until(&format!("{needle:?} on stderr"), |p| {
            p.err_text.contains(needle)
        });
    }

    /// Waits for the child to exit, collecting the rest of its output.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the pump threads reach end of stream.
                std::thread::sleep(Duration::from_millis(50));
                self.drain();
                return status;
            }
            if Instant::now() >= deadline {
                self.drain();
                panic!(
                    "{} did not exit within {WAIT:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                    self.name, self.out_text, self.err_text
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
