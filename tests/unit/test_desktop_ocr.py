"""Reading Tesseract's TSV and finding a text among its words, without Tesseract."""

from __future__ import annotations

from kernelagent.desktop.ocr import find, parse_tsv, text_of

TSV = "\n".join(
    [
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "1\t1\t0\t0\t0\t0\t0\t0\t500\t300\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t20\t50\t12\t96.5\tSave",
        "5\t1\t1\t1\t1\t2\t70\t21\t40\t12\t91.0\tas...",
        "5\t1\t1\t1\t1\t3\t120\t20\t30\t12\t90.0\t ",
        "5\t1\t2\t1\t1\t1\t10\t200\t60\t14\t88.0\tCancel",
    ]
)


def test_words_are_offset_into_screen_coordinates():
    words = parse_tsv(TSV, dx=100, dy=5)
    assert [b["text"] for _, b in words] == ["Save", "as...", "Cancel"]
    assert words[0][1]["x"] == 110 and words[0][1]["y"] == 25 and words[0][1]["confidence"] == 96.5
    assert text_of(words) == "Save as...\nCancel"


def test_find_runs_of_words_on_one_line():
    words = parse_tsv(TSV)
    assert find(words, "save AS") == {"x": 10, "y": 20, "width": 100, "height": 13, "text": "Save as..."}
    assert find(words, "cancel")["y"] == 200
    assert find(words, "canc") is not None  # one word: a part of a word will do
    assert find(words, "as Cancel") is None  # not on one line
    assert find(words, "...") is None and find(words, "OK") is None
