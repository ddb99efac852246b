//! What to undo at exit: the spawned server, the scratch directory, scratch databases.

use std::path::PathBuf;
use std::process::Child;

use crate::pg::drop_pg_database;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What to undo at exit, whatever happened: the child server, temp files, scratch databases.
#[derive(Default)]
pub(crate) struct Cleanup {
    pub(crate) child: Option<Child>,
    pub(crate) dir: Option<PathBuf>,
    /// (maintenance URL, database name)
    pub(crate) pg_databases: Vec<(String, String)>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
        }
        for (url, name) in self.pg_databases.drain(..) {
            if let Err(e) = drop_pg_database(&url, &name) {
                eprintln!("trialgate-load: could not drop database {name}: {e}");
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Asks the child to stop (SIGTERM through `kill`, so the server shuts down gracefully), waits
/// up to 15 s, then kills it.
pub(crate) fn stop_child(child: &mut Child) {
    let asked = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if asked {
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
