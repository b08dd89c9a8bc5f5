import pytest

from knowledgebase.markdown import markdown_render


def test_markdown_becomes_html():
    # given a body with ordinary Markdown
    # when it is rendered
    html = markdown_render("## Returns\n\nSend it **back** within [30 days](https://shop.example.com/returns).")
    # then it is HTML, and the link is marked so it passes no authority or opener
    assert "<h2>Returns</h2>" in html
    assert "<strong>back</strong>" in html
    assert '<a href="https://shop.example.com/returns" rel="noopener noreferrer nofollow">30 days</a>' in html


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<svg><script>alert(1)</script></svg>",
        "<style>body{display:none}</style>",
        "<iframe src='https://evil.example'></iframe>",
    ],
)
def test_script_and_embedding_tags_are_removed_with_their_content(hostile):
    html = markdown_render(f"Hello\n\n{hostile}\n\nBye")
    lowered = html.lower()
    assert "<script" not in lowered and "alert" not in lowered
    assert "<style" not in lowered and "<iframe" not in lowered and "<svg" not in lowered
    assert "Hello" in html and "Bye" in html


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](java&#x09;script:alert(1))",
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href="&#x6A;&#x61;&#x76;&#x61;script:alert(1)">x</a>',
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](vbscript:msgbox(1))",
    ],
)
def test_links_to_anything_but_http_https_or_mailto_lose_their_href(link):
    html = markdown_render(link)
    assert "href" not in html
    assert "x</a>" in html


@pytest.mark.parametrize(
    "hostile",
    [
        '<img src="x" onerror="alert(1)">',
        '<a href="https://ok.example" onclick="alert(1)">ok</a>',
        '<p onmouseover="alert(1)">hover</p>',
        '<div style="background:url(javascript:alert(1))">styled</div>',
        "<details open ontoggle=alert(1)>",
    ],
)
def test_event_handlers_and_styles_are_dropped(hostile):
    html = markdown_render(hostile).lower()
    assert "onerror" not in html and "onclick" not in html and "onmouseover" not in html and "ontoggle" not in html
    assert "style=" not in html and "alert" not in html


def test_html_entities_stay_text():
    # given a body that writes a tag with entities
    html = markdown_render("&lt;script&gt;alert(1)&lt;/script&gt; and `<b>code</b>`")
    # then it is shown as text, never turned back into a tag
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "<code>&lt;b&gt;code&lt;/b&gt;</code>" in html


def test_mailto_and_http_links_are_kept():
    html = markdown_render("[mail](mailto:help@example.com) [site](http://example.com)")
    assert 'href="mailto:help@example.com"' in html
    assert 'href="http://example.com"' in html


def test_article_save_stores_sanitised_html(db):
    from .factories import make_article

    article = make_article(title="T", body="Hi <script>alert(1)</script> [x](javascript:alert(1))")
    assert "script" not in article.body_html
    assert "javascript" not in article.body_html
