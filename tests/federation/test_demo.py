"""``trustdesk demo``: three real nodes, trusts countersigned, requests in the MSP inbox."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from account_node import demo
from account_node.migrations import upgrade
from tests.conftest import node_settings


def _free_base_port() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 65000:
            continue
        try:
            for offset in (1, 2):
                with socket.socket() as other:
                    other.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    pytest.fail("no three free consecutive ports")


def test_the_demo_is_a_seeded_federation_of_three_nodes(tmp_path):
    base = _free_base_port()
    settings = node_settings(data_dir=str(tmp_path), sla_sweep_seconds=0)
    demo.run_demo(settings, str(tmp_path / "demo"), base, exit_after_seed=True)
    summary = json.loads((tmp_path / "demo" / "demo.json").read_text())

    assert [(n["name"], n["url"], n["accounts"]) for n in summary["nodes"]] == [
        ("msp", f"http://127.0.0.1:{base}", ["northwind-msp", "contoso"]),
        ("fabrikam", f"http://127.0.0.1:{base + 1}", ["fabrikam"]),
        ("tailspin", f"http://127.0.0.1:{base + 2}", ["tailspin"]),
    ]
    assert {a["id"]: (a["node"], a["kind"]) for a in summary["accounts"]} == {
        "northwind-msp": ("msp", "msp"),
        "contoso": ("msp", "customer"),
        "fabrikam": ("fabrikam", "customer"),
        "tailspin": ("tailspin", "customer"),
    }
    assert sorted(t["trusting"] for t in summary["trusts"]) == ["contoso", "fabrikam", "tailspin"]
    assert {t["trusted"] for t in summary["trusts"]} == {"northwind-msp"}
    assert {t["status"] for t in summary["trusts"]} == {"active"}
    assert all(p["token"] and p["password"] for p in summary["people"])

    # A second run reuses the data: the same nodes come up, and the MSP's specialist sees
    # every customer's requests in the cross-account inbox.
    nodes = demo.demo_nodes(settings, tmp_path / "demo", base)
    for node in nodes:
        upgrade(node.settings.effective_migration_url)
    demo.start(nodes)
    try:
        sam = next(p for p in summary["people"] if p["email"] == "sam@northwind.example")
        inbox = httpx.get(
            f"http://127.0.0.1:{base}/api/v1/inbox",
            headers={"Authorization": f"Bearer {sam['token']}"},
            timeout=30,
        ).json()
    finally:
        demo.stop(nodes)
    assert {s["account"]: s["status"] for s in inbox["sources"]} == {
        "contoso": "ok",
        "fabrikam": "ok",
        "tailspin": "ok",
        "northwind-msp": "ok",
    }
    assert sorted(i["account"] for i in inbox["items"]) == [
        "contoso",
        "fabrikam",
        "fabrikam",
        "tailspin",
    ]
