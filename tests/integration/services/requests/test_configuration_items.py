"""Configuration items: names compared as stored, and a tree that never grows too deep to
pass its SLA down."""

from __future__ import annotations

from services.cmdb.service import MAX_DEPTH


def _count(desk) -> int:
    return len(desk.get("/api/v1/cis", limit=200).get_json()["items"])


def test_a_name_is_stored_without_its_surrounding_spaces_and_a_spaced_copy_is_a_duplicate(desk):
    made = desk.created("/api/v1/cis", {"type": "laptop", "name": "  LT-042 "})
    assert made["name"] == "LT-042"
    before = _count(desk)

    again = desk.post("/api/v1/cis", {"type": "laptop", "name": " LT-042"})

    assert again.status_code == 422, again.get_data(as_text=True)
    assert "name" in again.get_json()["errors"]
    assert _count(desk) == before


def test_renaming_to_a_spaced_copy_of_another_name_is_a_duplicate(desk):
    desk.created("/api/v1/cis", {"type": "laptop", "name": "LT-042"})
    other = desk.created("/api/v1/cis", {"type": "laptop", "name": "LT-043"})

    renamed = desk.patch(f"/api/v1/cis/{other['id']}", {"name": "LT-042  "})

    assert renamed.status_code == 422, renamed.get_data(as_text=True)
    assert desk.get(f"/api/v1/cis/{other['id']}").get_json()["name"] == "LT-043"


def _chain(desk, prefix: str, length: int, top_parent: str | None = None) -> list[str]:
    """``length`` items, each the parent of the next; the first under ``top_parent``."""
    ids: list[str] = []
    for i in range(length):
        body = {"type": "node", "name": f"{prefix}-{i}"}
        parent = ids[-1] if ids else top_parent
        if parent:
            body["parent_id"] = parent
        ids.append(desk.created("/api/v1/cis", body)["id"])
    return ids


def test_moving_a_subtree_that_would_make_the_tree_too_deep_is_refused(desk):
    """The item's own descendants count: otherwise the leaves end up deeper than the walk
    up the tree goes, and silently lose the SLA they inherit from the root."""
    rooted = _chain(desk, "rooted", MAX_DEPTH // 2 + 4, top_parent=desk.parent_ci)
    loose = _chain(desk, "loose", MAX_DEPTH // 2 + 4)

    moved = desk.patch(f"/api/v1/cis/{loose[0]}", {"parent_id": rooted[-1]})

    assert moved.status_code == 422, moved.get_data(as_text=True)
    assert "deeper" in moved.get_json()["errors"]["parent_id"][0]
    assert desk.get(f"/api/v1/cis/{loose[0]}").get_json()["parent_id"] is None


def test_a_subtree_that_fits_moves_and_its_leaves_inherit_the_new_roots_sla(desk):
    rooted = _chain(desk, "rooted", 3, top_parent=desk.parent_ci)
    loose = _chain(desk, "loose", 3)

    moved = desk.patch(f"/api/v1/cis/{loose[0]}", {"parent_id": rooted[-1]})

    assert moved.status_code == 200, moved.get_data(as_text=True)
    leaf = desk.raise_request("specialist", requester_id=desk.account.end_user.id, ci_id=loose[-1])
    assert (leaf["sla"]["source"], leaf["sla"]["id"]) == ("ci", desk.ci_sla)
