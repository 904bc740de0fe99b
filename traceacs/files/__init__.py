"""The file store: firmware images, configuration files, CPE uploads (see `store`)."""

from traceacs.files.disk import DiskFileStore
from traceacs.files.store import (
    FIRMWARE_IMAGE,
    UPLOAD,
    VENDOR_CONFIG,
    WEB_CONTENT,
    FileStore,
    FileStoreError,
    FileTooLarge,
    InvalidFileName,
    StoredFile,
    StoredFileNotFound,
    chunks_of,
    validate_name,
)
from traceacs.files.tokens import FileAccessTokens

__all__ = [
    "FIRMWARE_IMAGE",
    "UPLOAD",
    "VENDOR_CONFIG",
    "WEB_CONTENT",
    "DiskFileStore",
    "FileAccessTokens",
    "FileStore",
    "FileStoreError",
    "FileTooLarge",
    "InvalidFileName",
    "StoredFile",
    "StoredFileNotFound",
    "chunks_of",
    "validate_name",
]
