//! Writing a file only its owner may read (signing keys, stored tokens), the one place both the
//! registry and `scaffold` do it: created with mode 0600, and an existing file narrowed to 0600
//! before anything is written into it.

use std::path::Path;

/// Writes `bytes` to `path`, readable and writable by its owner only (on Unix).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        // `mode` applies to new files only: a file that existed keeps its mode unless narrowed.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, bytes)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn new_and_existing_files_end_up_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fresh = dir.path().join("fresh");
        write(&fresh, b"secret").expect("writes");
        let existing = dir.path().join("existing");
        std::fs::write(&existing, b"old").expect("writes");
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write(&existing, b"secret").expect("writes");
        for path in [fresh, existing] {
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
            assert_eq!(std::fs::read(&path).expect("reads"), b"secret");
        }
    }
}
