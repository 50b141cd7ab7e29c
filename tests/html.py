"""Read HTML responses as a tree, so tests look at elements and attributes, not at substrings."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    """An element: its tag, attributes (in order, and as a dict), parent and children (nodes and text)."""

    def __init__(self, tag: str, attrs: list[tuple[str, str | None]], parent: Node | None):
        self.tag, self.attr_list, self.attrs, self.parent = tag, attrs, dict(attrs), parent
        self.children: list[Node | str] = []

    def get(self, name: str, default: str = "") -> str:
        return self.attrs.get(name) or default

    @property
    def classes(self) -> list[str]:
        return self.get("class").split()

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    @property
    def raw_text(self) -> str:
        return "".join(c if isinstance(c, str) else c.raw_text for c in self.children)

    @property
    def text(self) -> str:
        return " ".join(self.raw_text.split())

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and (cls is None or cls in node.classes)
            and all(node.attrs.get(name) == value for name, value in attrs.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node | None:
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None

    def ancestor(self, cls: str) -> Node | None:
        node = self.parent
        while node is not None and cls not in node.classes:
            node = node.parent
        return node


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", [], None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID_TAGS:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node.parent is not None and node.tag != tag:
            node = node.parent
        if node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(response) -> Node:
    builder = _TreeBuilder()
    builder.feed(response.content.decode())
    builder.close()
    return builder.root


def main_of(response) -> Node:
    main = parse(response).find("main")
    assert main is not None, "a full page has a <main>"
    return main


def form_values(form: Node) -> dict[str, str | list[str]]:
    """What a browser would submit for this form, as rendered."""
    values: dict[str, list[str]] = {}
    for node in form.iter():
        name = node.get("name")
        if not name or node.tag not in ("input", "select", "textarea"):
            continue
        if node.tag == "input":
            kind = node.get("type", "text")
            if kind in ("submit", "button", "reset", "image") or (
                kind in ("checkbox", "radio") and "checked" not in node.attrs
            ):
                continue
            values.setdefault(name, []).append(node.get("value", "on" if kind in ("checkbox", "radio") else ""))
        elif node.tag == "textarea":
            text = node.raw_text
            values.setdefault(name, []).append(text[1:] if text.startswith("\n") else text)
        else:
            options = node.find_all("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            values.setdefault(name, []).extend(o.get("value") for o in chosen)
    return {name: found[0] if len(found) == 1 else found for name, found in values.items()}


def post_form(page: Node) -> Node:
    form = next((f for f in page.find_all("form") if f.get("method").lower() == "post"), None)
    assert form is not None, "the page has a form to submit"
    return form


def error_next_to(page: Node, name: str) -> str:
    """The errors shown in the same field block as the input named `name`."""
    control = next(n for n in page.iter() if n.tag in ("input", "select", "textarea") and n.get("name") == name)
    block = control.ancestor("field")
    errors = block.find("ul", cls="errorlist") if block else None
    return errors.text if errors else ""


def is_script_url(value: str | None) -> bool:
    squashed = re.sub(r"[\x00-\x20]", "", value or "").lower()
    return squashed.startswith(("javascript:", "vbscript:", "data:text/html"))


def assert_no_active_content(page: Node) -> None:
    """No script but our own static files, no event-handler attribute, no script URL."""
    for node in page.iter():
        if node.tag == "script":
            assert node.get("src").startswith("/static/"), node.attrs
            assert not node.raw_text.strip()
        for name, value in node.attr_list:
            assert not name.lower().startswith("on"), f"<{node.tag} {name}={value!r}>"
            assert not is_script_url(value), f"<{node.tag} {name}={value!r}>"
