from ..models import Attachment, Site, Visitor
from ..services import token_hash


def visitor_for_token(*, site: Site, token: str) -> Visitor | None:
    """The visitor the widget's token names on this site (the socket's `hello` token)."""
    if not token:
        return None
    return Visitor.objects.filter(site=site, token_hash=token_hash(token)).first()


def attachment_for_download(*, public_id: str) -> Attachment | None:
    """A file still held: erasure deletes the file and leaves the row."""
    attachment = Attachment.objects.filter(public_id=public_id).first()
    if attachment is None or not attachment.file:
        return None
    return attachment
