"""The streaming multipart parser on its own: any split of the body gives the same parts; crafted
bodies (padding, missing headers, junk, cut bodies) give the parts or the 400 they should."""

from __future__ import annotations

import random

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.files.multipart import MAX_PART_HEADER_BYTES, MultipartParser, boundary_from

B = "b0und4ry"
FILE = bytes(range(256)) * 40 + f"\r\n--{B[:-1]}.x--{B}\r\n\r\n-\r".encode() * 50 + b"\r\n"  # near-delimiters only


def body() -> bytes:
    return (
        (
            f'preamble\r\n--{B}\r\nContent-Disposition: form-data; name="path"\r\n\r\n/w/x.bin\r\n'
            f'--{B}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + FILE
        + f"\r\n--{B}--\r\nepilogue".encode()
    )


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
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    assert parse(chunks) == [["path", None, b"/w/x.bin"], ["file", "x.bin", FILE]]


def test_byte_at_a_time():
    data = body()
    assert parse(data[i : i + 1] for i in range(len(data))) == [["path", None, b"/w/x.bin"], ["file", "x.bin", FILE]]


def test_cut_body_and_bad_content_type():
    with pytest.raises(AgentError):
        parse([body()[:-30]])
    with pytest.raises(AgentError):
        boundary_from("application/json")
    assert boundary_from(f'multipart/form-data; boundary="{B}"') == B


# --- crafted bodies ---


def events(body: bytes, boundary: str = B, chunk: int | None = None) -> list:
    """Every event of one body, data joined per part, fed whole or in chunks of `chunk` bytes."""
    p = MultipartParser(boundary)
    out: list = []
    pieces = [body] if chunk is None else [body[i : i + chunk] for i in range(0, len(body), chunk)]
    for piece in pieces:
        for kind, value in p.feed(piece):
            if kind == "data" and out and out[-1][0] == "data":
                out[-1][1] += bytes(value)
            elif kind == "data":
                out.append(["data", bytes(value)])
            else:
                out.append([kind, value])
    p.finish()
    return out


def rejected(body: bytes, match: str, boundary: str = B) -> AgentError:
    with pytest.raises(AgentError, match=match) as exc:
        events(body, boundary)
    assert exc.value.status == 400 and exc.value.code == "INVALID_REQUEST"
    return exc.value


def test_part_headers_name_filename_and_type():
    ev = events(
        f'--{B}\r\nContent-Disposition: form-data; name="file"; filename="a b.txt"\r\n'
        f"CONTENT-TYPE:  text/csv \r\nX-Extra: 1\r\n\r\nx,y\r\n--{B}--".encode()
    )
    assert [e[0] for e in ev] == ["part", "data", "end_part", "end"]
    part = ev[0][1]
    assert (part.name, part.filename, part.content_type) == ("file", "a b.txt", "text/csv")
    assert part.headers["x-extra"] == "1" and "content-type" in part.headers  # keys lower-cased
    assert ev[1][1] == b"x,y"


def test_rfc2231_filename_is_decoded():
    ev = events(
        f'--{B}\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt\r\n\r\n1\r\n--{B}--".encode()
    )
    assert ev[0][1].filename == "naïve €.txt"


def test_field_without_filename_defaults_to_text_plain():
    part = events(f'--{B}\r\nContent-Disposition: form-data; name="path"\r\n\r\n/x\r\n--{B}--'.encode())[0][1]
    assert (part.name, part.filename, part.content_type) == ("path", None, "text/plain")


def test_part_without_headers_and_empty_parts():
    ev = events(f'--{B}\r\n\r\nbare\r\n--{B}\r\nContent-Disposition: form-data; name="e"\r\n\r\n\r\n--{B}--'.encode())
    assert [e[0] for e in ev] == ["part", "data", "end_part", "part", "end_part", "end"]
    assert ev[0][1].name == "" and ev[0][1].headers == {}
    assert ev[1][1] == b"bare" and ev[3][1].name == "e"


def test_transport_padding_after_a_boundary_is_allowed():
    ev = events(
        f'--{B} \t \r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{B}\t\r\n\r\n2\r\n--{B}--'.encode()
    )
    assert [e[1] for e in ev if e[0] == "data"] == [b"1", b"2"]


def test_preamble_and_epilogue_are_ignored():
    p = MultipartParser(B)
    ev = p.feed(f"ignored --{B[:-1]} text\r\n--{B}\r\n\r\nz\r\n--{B}--\r\nafter".encode())
    assert [k for k, _ in ev] == ["part", "data", "end_part", "end"]
    p.finish()  # the closing boundary arrived
    assert p.feed(f"\r\n--{B}\r\n\r\nmore".encode()) == []  # nothing after the end
    p.finish()


def test_delimiter_split_across_chunks_at_every_offset():
    data = bytes(range(256)) * 8
    body = f"--{B}\r\n\r\n".encode() + data + f"\r\n--{B}--".encode()
    for chunk in (1, 2, 3, len(B) + 3, len(B) + 4, 100, 1000):
        assert events(body, chunk=chunk) == [
            ["part", events(body)[0][1]],
            ["data", data],
            ["end_part", None],
            ["end", None],
        ]


def test_large_chunks_pass_data_through_as_views():
    data = b"\xab" * (1 << 16)
    p = MultipartParser(B)
    head = p.feed(f"--{B}\r\n\r\n".encode())
    assert [k for k, _ in head] == ["part"]
    body_events = p.feed(data) + p.feed(data) + p.feed(f"\r\n--{B}--".encode())
    assert any(isinstance(v, memoryview) for k, v in body_events if k == "data")
    assert b"".join(bytes(v) for k, v in body_events if k == "data") == data * 2
    assert [k for k, _ in body_events][-2:] == ["end_part", "end"]


def test_junk_after_a_boundary_is_a_400():
    rejected(f"--{B}junk\r\n\r\nx\r\n--{B}--".encode(), "junk after a boundary")
    rejected(f"--{B}".encode() + b" " * 300, "junk after a boundary")  # no CRLF in sight


def test_malformed_header_line_is_a_400():
    rejected(f"--{B}\r\nno colon here\r\n\r\nx\r\n--{B}--".encode(), "Malformed multipart header")


def test_oversized_part_headers_are_a_400():
    big = "X-Pad: " + "a" * MAX_PART_HEADER_BYTES
    rejected(f"--{B}\r\n{big}\r\n".encode(), "too large")


def test_cut_bodies_are_a_400_wherever_they_stop():
    body = f'--{B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue\r\n--{B}--'.encode()
    for cut in range(len(body) - 1):  # any prefix that misses the closing "--"
        with pytest.raises(AgentError, match="Incomplete multipart body"):
            events(body[:cut])
    rejected(b"", "Incomplete multipart body")


@pytest.mark.parametrize(
    "content_type, boundary",
    [
        (f"multipart/form-data; boundary={B}", B),
        (f'multipart/form-data; boundary="{B}"', B),
        (f"Multipart/Form-Data; charset=utf-8; BOUNDARY={B}", B),
        ('multipart/form-data; boundary="a b:c"', "a b:c"),
    ],
)
def test_boundary_from_content_type(content_type, boundary):
    assert boundary_from(content_type) == boundary


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "application/json",
        "multipart/mixed; boundary=x",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "b" * 201,
    ],
)
def test_boundary_from_refuses(content_type):
    with pytest.raises(AgentError) as exc:
        boundary_from(content_type)
    assert exc.value.status == 400
