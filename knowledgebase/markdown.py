"""Article bodies: Markdown in, sanitised HTML out.

The Markdown library passes raw HTML through, so its output is untrusted; nh3 (the Rust
ammonia sanitiser) then keeps only a small set of tags and attributes, drops `<script>`
and `<style>` with their content, every event handler and every URL that is not http,
https or mailto (relative links stay: they cannot run code).
"""

import markdown as markdown_lib
import nh3

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"


def markdown_render(source: str) -> str:
    """Safe HTML for a Markdown text, ready to be marked safe in a template."""
    html = markdown_lib.markdown(source, extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )
