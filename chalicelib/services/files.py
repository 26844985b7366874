"""Attachments: presigned uploads straight to object storage, checked before they are sent."""
from __future__ import annotations

from ..domain import protocol as p
from ..domain.errors import InvalidFrame
from ..domain.ids import new_id
from ..domain.model import Attachment, Conversation, Identity, Message
from ..domain.ports import FileStore

ALLOWED_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
MAX_BYTES = 10 * 1024 * 1024


class InvalidUpload(InvalidFrame):
    code = "invalid_upload"


class FileService:
    def __init__(self, store: FileStore, chat_conversation: object) -> None:
        self._store = store
        self._conversation = chat_conversation  # ChatService.conversation: checks the caller may read it

    @staticmethod
    def key(tenant_id: str, conversation_id: str, file_id: str) -> str:
        return f"{tenant_id}/{conversation_id}/{file_id}"

    def create_upload(self, identity: Identity, conversation_id: str, name: str, content_type: str,
                      size: int) -> tuple[str, dict[str, object]]:
        self._conversation(identity, conversation_id)  # type: ignore[operator]
        self._check(content_type, size)
        file_id = new_id("f")
        upload = self._store.presign_upload(self.key(identity.tenant_id, conversation_id, file_id),
                                            content_type, MAX_BYTES)
        return file_id, upload

    def resolve(self, identity: Identity, conversation: Conversation, attachment: p.AttachmentIn) -> Attachment:
        """The stored object behind a message's attachment, with its real size and type."""
        self._check(attachment.content_type, attachment.size)
        head = self._store.head(self.key(conversation.tenant_id, conversation.conversation_id,
                                         attachment.file_id))
        if head is None:
            raise InvalidUpload("the file was not uploaded (or to another conversation)")
        size, content_type = head
        self._check(content_type, size)
        return Attachment(attachment.file_id, attachment.name, content_type, size)

    def url(self, message: Message) -> str:
        assert message.attachment is not None
        a = message.attachment
        return self._store.download_url(self.key(message.tenant_id, message.conversation_id, a.file_id),
                                        a.name, a.content_type)

    @staticmethod
    def _check(content_type: str, size: int) -> None:
        if content_type not in ALLOWED_TYPES:
            raise InvalidUpload(f"files of type {content_type} are not accepted",
                                {"allowed_types": sorted(ALLOWED_TYPES)})
        if size > MAX_BYTES or size < 1:
            raise InvalidUpload(f"files must be 1 byte to {MAX_BYTES // (1024 * 1024)} MB",
                                {"max_bytes": MAX_BYTES})
