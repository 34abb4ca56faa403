"""Renderer's templates: looked up once per kind, yet an edited or added template file is
picked up within RECHECK_SECONDS (a daemon keeps one renderer per configuration)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from refmail import render
from refmail.render import Renderer
from tests.support.drafts import NOW, draft, html_of, reparse, text_of

TEXT = "{% set subject %}Thanks{% endset %}{{ word }} {{ d.recipient.first_name }}\n"


def write(directory: Path, name: str, body: str, age: float = 0.0) -> None:
    path = directory / "email" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(body)
    stamp = path.stat().st_mtime - age
    os.utime(path, (stamp, stamp))  # an mtime apart from the previous version's


def text(renderer: Renderer) -> str:
    return text_of(reparse(renderer.render(draft("thank_you"), NOW)))


def test_an_edited_template_is_read_again_after_the_recheck_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(render.time, "monotonic", lambda: clock[0])
    write(tmp_path, "thank_you.txt.j2", TEXT.replace("{{ word }}", "Cheers"), age=10)
    renderer = Renderer(str(tmp_path))
    assert text(renderer).startswith("Cheers")
    write(tmp_path, "thank_you.txt.j2", TEXT.replace("{{ word }}", "Merci"))
    assert text(renderer).startswith("Cheers")  # within the interval: no look at the files
    clock[0] += render.RECHECK_SECONDS
    assert text(renderer).startswith("Merci")


def test_an_added_html_template_is_found_after_the_recheck_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(render.time, "monotonic", lambda: clock[0])
    write(tmp_path, "call_task.txt.j2", "{% set subject %}Call{% endset %}Call them\n")
    renderer = Renderer(str(tmp_path))
    call = draft("call_task")
    assert reparse(renderer.render(call, NOW)).get_body(("html",)) is None
    write(tmp_path, "call_task.html.j2", "<p>Call them</p>\n")
    assert reparse(renderer.render(call, NOW)).get_body(("html",)) is None
    clock[0] += render.RECHECK_SECONDS
    assert "<p>Call them</p>" in html_of(reparse(renderer.render(call, NOW)))


def test_the_same_renderer_writes_the_same_bytes_as_a_new_one_after_a_reload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(render.time, "monotonic", lambda: clock[0])

    def written(renderer: Renderer) -> bytes:
        random.seed(15)  # the multipart boundary is drawn at random
        return renderer.render(draft("check_in"), NOW).as_bytes()

    renderer = Renderer()
    first = written(renderer)
    clock[0] += render.RECHECK_SECONDS
    assert written(renderer) == first == written(Renderer())


class _ClearedBetween(dict):  # type: ignore[type-arg]
    """A table another thread clears (Renderer._recheck) just after this one looked in it."""

    def __init__(self, renderer: Renderer) -> None:
        super().__init__()
        self.renderer = renderer

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        self.clear()
        return found

    def get(self, key: object, default: object = None) -> object:
        found = super().get(key, default)
        self.clear()
        return found


def test_a_table_cleared_by_another_thread_between_lookups_is_no_error() -> None:
    renderer = Renderer()
    assert text_of(reparse(renderer.render(draft("thank_you"), NOW)))
    table = _ClearedBetween(renderer)
    table.update(renderer._templates)
    renderer._templates = table
    renderer._recheck_at = float("inf")
    assert text_of(reparse(renderer.render(draft("thank_you"), NOW)))
