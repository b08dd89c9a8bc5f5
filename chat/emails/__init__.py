"""Emails to visitors: the transcript (R18), the follow-up answer (R16) and the review
request (R19), with the consent they rest on (R4).

Every email is an `OutboundEmail` row, created in the transaction of the event that
causes it (`queueing`, `reviews`); `chat.tasks.send_email` is queued after that commit
(or by the requeue sweep when the email is due or its task was lost) and calls
`email_send` (`sending`), which claims the row, sends it and marks it sent.

Delivery guarantee, honestly stated: at least once at the SMTP level, exactly once per
Message-ID. A claimed row is sent by one worker at a time; a worker that dies after
the claim leaves the row `sending`, and once the claim is older than the longest a
send may take (`claim_timeout`) the redelivered task (or the sweep) claims it again. If
the first worker died after the SMTP server accepted the message but before the row was
marked sent, the resend carries the same Message-ID header, so the receiving side can
drop it as a duplicate. A worker killed before the server's reply to DATA delivered
nothing (an SMTP server takes a message only when it answers 250), so the resend is the
one copy.
"""

from .consent import email_unsubscribe, optional_mail_allowed, unsubscribe_url, unsubscriber_from_token
from .queueing import email_queue_follow_up, email_queue_transcript, email_retry, emails_requeue
from .rendering import follow_up_render, review_request_render, transcript_render
from .reviews import email_queue_review_request, review_request_refusal
from .sending import claim_timeout, email_build, email_render, email_send

__all__ = [
    "claim_timeout",
    "email_build",
    "email_queue_follow_up",
    "email_queue_review_request",
    "email_queue_transcript",
    "email_render",
    "email_retry",
    "email_send",
    "email_unsubscribe",
    "emails_requeue",
    "follow_up_render",
    "optional_mail_allowed",
    "review_request_refusal",
    "review_request_render",
    "transcript_render",
    "unsubscribe_url",
    "unsubscriber_from_token",
]  # fmt: skip
