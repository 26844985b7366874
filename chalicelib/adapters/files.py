"""Attachments in S3: presigned POST for uploads, presigned GET for downloads."""
from __future__ import annotations

import threading
from typing import Any

from ..domain.ports import FileStore

UPLOAD_URL_SECONDS = 15 * 60
DOWNLOAD_URL_SECONDS = 24 * 3600


class S3FileStore(FileStore):
    def __init__(self, bucket: str, region: str, endpoint_url: str | None = None, client: Any | None = None) -> None:
        self._bucket = bucket
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.session.Session().client(
                        "s3", region_name=self._region, endpoint_url=self._endpoint_url,
                        config=Config(signature_version="s3v4",
                                      s3={"addressing_style": "path" if self._endpoint_url else "auto"}),
                    )
        return self._client

    def presign_upload(self, key: str, content_type: str, max_bytes: int) -> dict[str, Any]:
        return dict(self._s3().generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=UPLOAD_URL_SECONDS,
        ))

    def head(self, key: str) -> tuple[int, str] | None:
        from botocore.exceptions import ClientError

        try:
            head = self._s3().head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"]), str(head.get("ContentType", ""))

    def download_url(self, key: str, name: str, content_type: str) -> str:
        safe_name = "".join(c if c.isalnum() or c in "._- " else "_" for c in name)[:100] or "file"
        disposition = "inline" if content_type.startswith("image/") else "attachment"
        return str(self._s3().generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key, "ResponseContentType": content_type,
                    "ResponseContentDisposition": f'{disposition}; filename="{safe_name}"'},
            ExpiresIn=DOWNLOAD_URL_SECONDS,
        ))
