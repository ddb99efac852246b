//! What to undo at exit: the spawned server, the scratch directory, scratch databases.

use std::path::PathBuf;
use std::process::Child;

use crate::pg::drop_pg_database;
use crate::server::stop_child;

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
