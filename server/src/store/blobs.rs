//! Ciphertext blobs in a directory.
//!
//! A blob is written to `tmp/<random>`, fsynced, renamed to
//! `blobs/<name>`, and the directory fsynced, before the database row that
//! references it commits; so a referenced blob is always whole. A crash
//! can leave a temporary file or an unreferenced blob behind, never a
//! reference to a missing or partial one; [`BlobStore::remove_orphans`]
//! clears those at start.

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::fs::{self, File};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _, BufWriter};
use tokio_util::io::ReaderStream;

use super::{BlobName, BlobStore, BlobStream, StagedBlob};

/// Read and write buffer size: the STREAM chunk size plus its tag, rounded.
const IO_BUFFER: usize = 128 * 1024;

/// Blobs stored as files under one directory.
#[derive(Debug, Clone)]
pub struct DirectoryBlobs {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl DirectoryBlobs {
    /// Opens (creating if needed) the blob directory under `root`.
    pub fn open(root: &Path) -> io::Result<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&blobs)?;
        std::fs::create_dir_all(&tmp)?;
        Ok(Self { blobs, tmp })
    }

    fn path_of(&self, name: &BlobName) -> PathBuf {
        self.blobs.join(name.as_str())
    }
}

fn random_name() -> io::Result<BlobName> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(BlobName::random(bytes))
}

impl BlobStore for DirectoryBlobs {
    fn stage(&self) -> BoxFuture<'_, io::Result<Box<dyn StagedBlob>>> {
        async move {
            let name = random_name()?;
            let tmp_path = self.tmp.join(name.as_str());
            let file = File::options()
                .write(true)
                .create_new(true)
                .open(&tmp_path)
                .await?;
            let staged: Box<dyn StagedBlob> = Box::new(StagedFile {
                writer: Some(BufWriter::with_capacity(IO_BUFFER, file)),
                tmp_path,
                final_path: self.path_of(&name),
                blobs_dir: self.blobs.clone(),
                name,
            });
            Ok(staged)
        }
        .boxed()
    }

    fn read(
        &self,
        name: &BlobName,
        offset: u64,
        len: u64,
    ) -> BoxFuture<'_, io::Result<BlobStream>> {
        let path = self.path_of(name);
        async move {
            let mut file = File::open(path).await?;
            file.seek(SeekFrom::Start(offset)).await?;
            let stream: BlobStream =
                Box::pin(ReaderStream::with_capacity(file.take(len), IO_BUFFER));
            Ok(stream)
        }
        .boxed()
    }

    fn remove(&self, name: &BlobName) -> BoxFuture<'_, io::Result<()>> {
        let path = self.path_of(name);
        async move { fs::remove_file(path).await }.boxed()
    }

    fn remove_orphans(&self, keep: &[BlobName]) -> io::Result<usize> {
        let keep: std::collections::HashSet<&str> = keep.iter().map(BlobName::as_str).collect();
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.tmp)? {
            std::fs::remove_file(entry?.path())?;
            removed += 1;
        }
        for entry in std::fs::read_dir(&self.blobs)? {
            let entry = entry?;
            let name = entry.file_name();
            if !name.to_str().is_some_and(|n| keep.contains(n)) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

struct StagedFile {
    writer: Option<BufWriter<File>>,
    tmp_path: PathBuf,
    final_path: PathBuf,
    blobs_dir: PathBuf,
    name: BlobName,
}

impl StagedBlob for StagedFile {
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        async move {
            match self.writer.as_mut() {
                Some(w) => w.write_all(bytes).await,
                None => Err(io::Error::other("blob already persisted")),
            }
        }
        .boxed()
    }

    fn persist(mut self: Box<Self>) -> BoxFuture<'static, io::Result<BlobName>> {
        async move {
            let Some(mut writer) = self.writer.take() else {
                return Err(io::Error::other("blob already persisted"));
            };
            writer.flush().await?;
            let file = writer.into_inner();
            file.sync_all().await?;
            drop(file);
            fs::rename(&self.tmp_path, &self.final_path).await?;
            let dir = self.blobs_dir.clone();
            tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
                .await
                .map_err(io::Error::other)??;
            Ok(self.name.clone())
        }
        .boxed()
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        // Not persisted: discard the partial file. (After a persist the
        // temporary path no longer exists and this is a no-op.)
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}
