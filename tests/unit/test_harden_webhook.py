"""Where a webhook may go: the address rule applied after DNS resolution."""

from __future__ import annotations

import asyncio

import pytest

from kernelagent.jobs.webhook import DestinationRefused, GuardedResolver, _status_line, address_allowed


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "169.254.169.254",
        "fe80::1%eth0",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "fd00::1",
        "240.0.0.1",
        "not-an-address",
    ],
)
def test_inward_addresses_are_refused(address):
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert address_allowed(address)


def test_resolver_refuses_a_name_that_resolves_inward():
    async def resolve(allow: bool):
        return await GuardedResolver(allow_private=allow).resolve("localhost", 80)

    with pytest.raises(DestinationRefused):
        asyncio.run(resolve(False))
    assert asyncio.run(resolve(True))


def test_status_line_is_noted_once():
    seen: list[int] = []
    for line in ("HTTP/1.1 204 No Content\r\n", "X-A: 1\r\n", "HTTP/1.1 500 Oops\r\n"):
        _status_line(line, seen)
    assert seen == [204]
