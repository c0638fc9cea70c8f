"""The streaming multipart parser on its own: any split of the body gives the same parts."""

from __future__ import annotations

import random

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.files.multipart import MultipartParser, boundary_from

B = "b0und4ry"
FILE = bytes(range(256)) * 40 + f"\r\n--{B[:-1]}.x--{B}\r\n\r\n-\r".encode() * 50 + b"\r\n"  # near-delimiters only


def body() -> bytes:
    return (f"preamble\r\n--{B}\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n/w/x.bin\r\n"
            f"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + FILE + f"\r\n--{B}--\r\nepilogue".encode()


def parse(chunks) -> list:
    p = MultipartParser(B)
    parts = []
    for chunk in chunks:
        for kind, value in p.feed(chunk):
            if kind == "part":
                parts.append([value.name, value.filename, b""])
            elif kind == "data":
                parts[-1][2] += bytes(value)
    p.finish()
    return parts


@pytest.mark.parametrize("seed", range(20))
def test_any_split_gives_the_same_parts(seed):
    data = body()
    rnd = random.Random(seed)
    cuts = sorted(rnd.sample(range(1, len(data)), rnd.randint(1, 200)))
    chunks = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
    assert parse(chunks) == [["path", None, b"/w/x.bin"], ["file", "x.bin", FILE]]


def test_byte_at_a_time():
    data = body()
    assert parse(data[i:i + 1] for i in range(len(data))) == [["path", None, b"/w/x.bin"], ["file", "x.bin", FILE]]


def test_cut_body_and_bad_content_type():
    with pytest.raises(AgentError):
        parse([body()[:-30]])
    with pytest.raises(AgentError):
        boundary_from("application/json")
    assert boundary_from(f'multipart/form-data; boundary="{B}"') == B
