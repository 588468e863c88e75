"""Collections (qa/library.py): each its own index, asked alone or together, removed whole; and who may
read or edit which (qa/server/users.py Access.may) over a real users file."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEEDS, settings_for, write

from qa.errors import CollectionMissing, InputError, UserError
from qa.library import Library
from qa.server.users import EDIT, READ, Access, UserStore

FINANCE = """Laporan Keuangan Sinar Laut
PT Sinar Laut Perkasa membukukan laba bersih Rp 7,3 triliun pada kuartal ketiga 2016. Direktur keuangan Sinar Laut, Melati Kusumawardani, mengatakan laba itu naik karena ekspor ikan tuna ke Jepang.
"""
HR = """Pengumuman Kepegawaian
Kepala bagian personalia yang baru adalah Bambang Wiratmoko. Ia menggantikan Sri Handayani yang pensiun pada bulan Maret.
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    tmp = tmp_path_factory.mktemp("library")
    library = Library(settings_for(tmp / "index", upload_dir=tmp / "uploads"))
    library.get("default").articles.index()  # the seed article
    library.create("finance").articles.index([write(tmp / "finance" / "laba.txt", FINANCE).parent], remember=True)
    library.create("hr").articles.index([write(tmp / "hr" / "kepala.txt", HR).parent], remember=True)
    return library


def test_each_collection_is_its_own_index(library: Library) -> None:
    assert library.names() == ["default", "finance", "hr"]
    finance = library.get("finance")
    assert finance.settings.store.index_dir == Path(library.settings.store.index_dir) / "collections" / "finance"
    assert [f["title"] for f in finance.articles.files()] == ["Laporan Keuangan Sinar Laut"]
    assert [f["source"] for f in library.get("default").articles.files()] == ["seeds/" + next(SEEDS.iterdir()).name]
    answer = finance.ask("Berapa laba bersih PT Sinar Laut Perkasa pada kuartal ketiga 2016?")
    assert "7,3 triliun" in answer.text and {c.collection for c in answer.citations} == {"finance"}
    assert {h.collection for h in answer.hits} == {"finance"}


def test_a_collection_does_not_answer_from_another(library: Library) -> None:
    answer = library.get("default").ask("Siapa kepala bagian personalia yang baru?")
    assert "Bambang" not in answer.reply and all(h.collection == "default" for h in answer.hits)
    assert all("Bambang" not in h.chunk.text for h in answer.hits)


def test_several_collections_are_asked_together(library: Library) -> None:
    joined = library.asker(["default", "hr"])
    answer = joined.ask("Siapa kepala bagian personalia yang baru?")
    assert "Bambang Wiratmoko" in answer.text and answer.citations[0].collection == "hr"
    assert {h.collection for h in answer.hits} == {"default", "hr"}  # both searched, fused by score
    assert [h.rank for h in answer.hits] == list(range(1, len(answer.hits) + 1))
    answer = joined.ask("Siapa yang menawari Jack Ma menjadi penasehat?")
    assert "Joko Widodo" in answer.text and answer.citations[0].collection == "default"
    assert answer.to_json()["citations"][0]["collection"] == "default"


def test_a_collection_remembers_its_folders(library: Library, tmp_path: Path) -> None:
    finance = library.get("finance")
    assert finance.articles.remembered() == [Path(library.settings.store.index_dir).parent / "finance"]
    report = finance.articles.index()  # an update with no paths reads the remembered folder, removes nothing
    assert report.removed == [] and report.documents == 1


def test_names_and_removal(library: Library) -> None:
    with pytest.raises(InputError, match="cannot name a collection"):
        library.create("../etc")
    for bad in ("Finance", "a b", "", "x" * 41, "_x"):
        assert not library.exists(bad)
    with pytest.raises(CollectionMissing):
        library.get("nope")
    with pytest.raises(CollectionMissing):
        library.asker(["default", "nope"])
    with pytest.raises(InputError, match="cannot be removed"):
        library.remove("default")
    temp = library.create("temp")
    temp.articles.index([Path(library.settings.store.index_dir).parent / "hr"], remember=True)
    folder = temp.settings.store.index_dir
    library.remove("temp")
    assert not folder.exists() and "temp" not in library.names()
    with pytest.raises(CollectionMissing):
        library.get("temp")


@pytest.fixture()
def users(tmp_path: Path) -> UserStore:
    store = UserStore(tmp_path / "users.json")
    store.add("alice", "reader", "alice-password")
    store.add("bob", "editor", "bob-password", groups=["hr_team"])
    store.add("carol", "editor", "carol-password")
    return store


def test_without_grants_every_user_reads_default_and_editors_edit_it(users: UserStore) -> None:
    access = Access(users)
    for name in ("alice", "bob", "carol"):
        assert access.may(name, READ, "default")
        assert not access.may(name, READ, "finance")  # a named collection is closed until granted
    assert not access.may("alice", EDIT, "default") and access.may("bob", EDIT, "default")
    assert not access.may("mallory", READ, "default")  # not a user
    assert not access.may(None, READ, "default")  # a server with users: a visitor reads nothing


def test_grants_to_users_and_groups(users: UserStore) -> None:
    access = Access(users)
    users.grant("alice", READ, "finance")
    users.grant("@hr_team", EDIT, "hr")
    assert access.allowed("alice", READ, ["default", "finance", "hr"]) == ["default", "finance"]
    assert access.allowed("bob", READ, ["default", "finance", "hr"]) == ["default", "hr"]  # edit includes read
    assert access.allowed("bob", EDIT, ["default", "finance", "hr"]) == ["default", "hr"]
    assert access.allowed("carol", READ, ["default", "finance", "hr"]) == ["default"]
    assert not access.may("alice", EDIT, "finance")
    users.grant("carol", READ, "default")  # once default is granted, only grants count there too
    assert access.allowed("alice", READ, ["default"]) == [] and not access.may("bob", EDIT, "default")
    assert access.may("carol", READ, "default") and not access.may("carol", EDIT, "default")
    assert users.revoke("carol", None, "default") == 1
    assert access.may("alice", READ, "default")  # nothing granted on it any more: open again
    users.remove("alice")
    users.add("alice", "reader", "new-alice-password")  # a new user of the same name inherits nothing
    assert not access.may("alice", READ, "finance")
    with pytest.raises(UserError, match="no user"):
        users.grant("mallory", READ, "finance")


def test_visitors(users: UserStore, tmp_path: Path) -> None:
    laptop = Access(UserStore(tmp_path / "none.json"), None, "editor")  # no users, loopback: its owner
    assert laptop.may(None, EDIT, "hr") and laptop.may("", READ, "finance")
    network = Access(users, None, "reader")  # --allow-anonymous
    assert network.may(None, READ, "default") and not network.may(None, READ, "finance")
    assert not network.may(None, EDIT, "default")
    users.grant("alice", READ, "default")
    assert not network.may(None, READ, "default")
