//! [`DataDir`]: the node's own files in its data directory, read and written here only.
//!
//! | file | holds | written by |
//! |---|---|---|
//! | [`KEY_FILE_NAME`] | the node's secret key (hex): its id and place in the network | the first start |
//! | [`ENR_SEQ_FILE_NAME`] | the last sequence number of our ENR | every start, and when a recovery moved the ENR on |
//! | [`PORT_FILE_NAME`] | the UDP port of the last run | every [`crate::node::Node`] start |
//!
//! The content store's database lives in the same directory but is the store's own
//! ([`crate::store::ContentStore::open_in_dir`]).
//!
//! The ENR sequence number rises on every start ([`DataDir::next_enr_seq`]): a record we sign
//! after a restart always replaces the one peers hold, even when our address changed.

use alloy_primitives::B256;
use std::path::{Path, PathBuf};

/// The file holding the node's secret key (hex), so a restarted node keeps its id and its
/// place in the network.
pub const KEY_FILE_NAME: &str = "node.key";

/// The file holding our ENR's last sequence number: each start goes above it, so that peers
/// replace the record they hold even when our address changed.
pub const ENR_SEQ_FILE_NAME: &str = "enr.seq";

/// The file holding the UDP port of the last run, tried first when any port will do.
pub const PORT_FILE_NAME: &str = "listen.port";

/// Why the data directory or the key file failed.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The data directory or the key file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The key file exists but does not hold a valid key.
    #[error("{}: not a valid node key", path.display())]
    BadKeyFile {
        /// The key file.
        path: PathBuf,
    },
}

/// A node's data directory: its key, its ENR sequence number, its last listen port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// The data directory at `path`, created if missing.
    pub fn open(path: impl Into<PathBuf>) -> Result<DataDir, DataDirError> {
        let path = path.into();
        std::fs::create_dir_all(&path).map_err(|source| DataDirError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(DataDir { path })
    }

    /// The directory itself (the store keeps its database in it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The node's secret key; a new random one, saved, on the first start.
    pub fn load_or_create_key(&self) -> Result<[u8; 32], DataDirError> {
        let path = self.path.join(KEY_FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = alloy_primitives::hex::decode(text.trim())
                    .map_err(|_| DataDirError::BadKeyFile { path: path.clone() })?;
                bytes
                    .try_into()
                    .map_err(|_| DataDirError::BadKeyFile { path })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = B256::random();
                std::fs::write(&path, alloy_primitives::hex::encode(key))
                    .map_err(|source| DataDirError::Io { path, source })?;
                Ok(key.0)
            }
            Err(source) => Err(DataDirError::Io { path, source }),
        }
    }

    /// The least sequence number the ENR of this start may carry: one above the last one
    /// saved (1 on the first start).
    pub fn next_enr_seq(&self) -> u64 {
        std::fs::read_to_string(self.path.join(ENR_SEQ_FILE_NAME))
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .unwrap_or(0)
            + 1
    }

    /// Keep `seq` as the floor of the next start's ENR sequence number.
    pub fn save_enr_seq(&self, seq: u64) {
        // Only a floor for the next start; failing to keep it costs a stale record at peers.
        if let Err(e) = std::fs::write(self.path.join(ENR_SEQ_FILE_NAME), seq.to_string()) {
            tracing::debug!(error = %e, "could not remember the ENR sequence number");
        }
    }

    /// The UDP port of the last run, if one was kept (never 0).
    pub fn last_port(&self) -> Option<u16> {
        let text = std::fs::read_to_string(self.path.join(PORT_FILE_NAME)).ok()?;
        text.trim().parse().ok().filter(|p| *p != 0)
    }

    /// Keep `port` for the next start.
    pub fn save_port(&self, port: u16) {
        // Only a hint for the next start: failing to keep it costs nothing now.
        if let Err(e) = std::fs::write(self.path.join(PORT_FILE_NAME), port.to_string()) {
            tracing::debug!(error = %e, "could not remember the listen port");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path().join("nested")).unwrap();
        let key = data.load_or_create_key().unwrap();
        assert_eq!(data.load_or_create_key().unwrap(), key);
        assert_eq!(
            DataDir::open(data.path())
                .unwrap()
                .load_or_create_key()
                .unwrap(),
            key
        );
    }

    #[test]
    fn a_bad_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE_NAME), "not hex").unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        assert!(matches!(
            data.load_or_create_key(),
            Err(DataDirError::BadKeyFile { .. })
        ));
        std::fs::write(dir.path().join(KEY_FILE_NAME), "abcd").unwrap();
        assert!(matches!(
            data.load_or_create_key(),
            Err(DataDirError::BadKeyFile { .. })
        ));
    }

    #[test]
    fn the_enr_seq_rises_above_the_saved_one() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        assert_eq!(data.next_enr_seq(), 1);
        data.save_enr_seq(41);
        assert_eq!(data.next_enr_seq(), 42);
    }

    #[test]
    fn the_port_is_kept_and_zero_is_not_a_port() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        assert_eq!(data.last_port(), None);
        data.save_port(30303);
        assert_eq!(data.last_port(), Some(30303));
        data.save_port(0);
        assert_eq!(data.last_port(), None);
    }
}
