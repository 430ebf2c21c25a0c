"""The blob store port (object storage for SOP documents) and its S3 adapter."""

from infra.blobs.port import BlobInfo, BlobNotFound, BlobStore

__all__ = ["BlobInfo", "BlobNotFound", "BlobStore"]
