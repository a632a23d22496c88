"""Findings and task descriptions, markdown to HTML an admin page can show: agents and plan authors write them,
so their HTML is never trusted."""

from urllib.parse import urlsplit

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

SAFE_SCHEMES = {"", "http", "https", "mailto"}


class _DropUnsafeUrls(Treeprocessor):
    """`[x](javascript:...)` is plain markdown, not raw HTML, so it survives the escaping below."""

    def run(self, root):
        for element in root.iter():
            for attribute in ("href", "src"):
                value = element.get(attribute)
                if value is not None and urlsplit(value.strip()).scheme.lower() not in SAFE_SCHEMES:
                    del element.attrib[attribute]


class _EscapeHtml(Extension):
    """Raw HTML in the source is shown as text (Python-Markdown's documented way since safe_mode went)."""

    def extendMarkdown(self, md):
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_DropUnsafeUrls(md), "drop_unsafe_urls", 5)


def render_markdown(text: str) -> SafeString:
    html = markdown.markdown(text, extensions=[_EscapeHtml(), "fenced_code", "tables", "sane_lists"])
    # A second, allow-list pass (ammonia) in case an extension ever lets markup through: this HTML
    # is inserted into the dashboard and the admin as is.
    return mark_safe(nh3.clean(html))  # noqa: S308 -- raw HTML and unsafe URLs removed, then sanitised


# A task description is one line: code, emphasis and nothing that could change the page's layout.
INLINE_TAGS = {"code", "strong", "em"}


def render_inline_markdown(text: str) -> SafeString:
    """`code`, **bold** and *emphasis* of one line; anything else (links, raw HTML) stays text."""
    html = markdown.markdown(text, extensions=[_EscapeHtml()])
    return mark_safe(nh3.clean(html, tags=INLINE_TAGS).strip())  # noqa: S308 -- sanitised to three tags
