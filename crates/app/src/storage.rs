//! The local storage backend as the catalogue's verification sees it: the size of the
//! file under each object key, below `LOCAL_STORAGE_DIR`.

use std::path::PathBuf;

use async_trait::async_trait;
use soundshelf_domain::catalog::ObjectKey;
use soundshelf_ports::{BoxError, ObjectSizes};

/// Files under a root folder.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    /// `LOCAL_STORAGE_DIR`.
    pub root: PathBuf,
}

#[async_trait]
impl ObjectSizes for LocalObjects {
    async fn size_of(&self, key: &ObjectKey) -> Result<Option<u64>, BoxError> {
        // A checked key (no `..`, not absolute) stays below the root.
        match tokio::fs::metadata(self.root.join(key.as_str())).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Box::new(e)),
        }
    }
}
