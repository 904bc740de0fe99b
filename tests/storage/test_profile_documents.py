"""Profile documents: what the embedded profile source reads and `profiles import` writes."""

from __future__ import annotations

import pytest

from traceacs.storage import SqlDeviceRepository

GOLD = {
    "services": ["internet", "voip"],
    "wifi": {"ssid": "Home-ü", "passphrase": "s3cret", "bands": ["2.4GHz", "5GHz"]},
    "vlans": {"internet": 100, "voip": 200},
    "nested": {"list": [1, 2.5, None, True]},
}


async def test_put_get_list_delete(repo: SqlDeviceRepository) -> None:
    assert await repo.get_profile_document("gold") is None
    assert await repo.list_profile_documents() == []

    await repo.put_profile_document("gold", GOLD, "v1")
    await repo.put_profile_document("basic", {"services": ["internet"]}, "v9")
    assert await repo.get_profile_document("gold") == (GOLD, "v1")
    assert await repo.list_profile_documents() == [("basic", "v9"), ("gold", "v1")]

    # Putting again replaces document and version.
    await repo.put_profile_document("gold", {"services": []}, "v2")
    assert await repo.get_profile_document("gold") == ({"services": []}, "v2")

    assert await repo.delete_profile_document("gold") is True
    assert await repo.delete_profile_document("gold") is False
    assert await repo.list_profile_documents() == [("basic", "v9")]


async def test_documents_must_be_json(repo: SqlDeviceRepository) -> None:
    with pytest.raises(ValueError, match="JSON"):
        await repo.put_profile_document("bad", {"when": object()}, "v1")
    with pytest.raises(ValueError, match="name"):
        await repo.put_profile_document("", {}, "v1")
    assert await repo.list_profile_documents() == []
