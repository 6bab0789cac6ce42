"""Which image a submission runs in (pure): quota-gated built-in images, the default, custom
references, and the local backend's refusal, each with its message."""

from __future__ import annotations

import pytest

from hai_server.domain.images import Choice, ImageRefused, TrainEnvironment, choose

BASE = TrainEnvironment("hai_base", "reg/hai/train:1", "/usr/bin/python3.11", {"A": "1"})
CUDA = TrainEnvironment("cuda12", "reg/hai/cuda:12", "python3", {"B": "2"})
SECRET = TrainEnvironment("secret", "reg/hai/secret:1")
ENVS = [BASE, CUDA, SECRET]


def quota_of(table: dict[str, int | None]):  # type: ignore[no-untyped-def]
    return lambda resource: table.get(resource, 0)


MINE = quota_of({"train_environment:hai_base": 1, "train_environment:cuda12": 5})

CASES = [
    ("no -i: the allowed image with the highest quota", None, MINE, "kubernetes",
     Choice("reg/hai/cuda:12", "cuda12", "python3", {"B": "2"})),
    ("-i NAME picks an allowed one", "hai_base", MINE, "kubernetes",
     Choice("reg/hai/train:1", "hai_base", "/usr/bin/python3.11", {"A": "1"})),
    ("a registry reference is a custom image", "reg/me/exp:3", MINE, "kubernetes",
     Choice("reg/me/exp:3")),
    ("no quota for any: the backend's default image", None, quota_of({}), "kubernetes",
     Choice(None)),
    ("ties by name; no limit (embedded) counts as the highest", None,
     quota_of({"train_environment:hai_base": None, "train_environment:cuda12": None,
               "train_environment:secret": None}), "kubernetes",
     Choice("reg/hai/cuda:12", "cuda12", "python3", {"B": "2"})),
    ("local backend, no -i: no image, the default's variables still apply", None, MINE,
     "local", Choice(None, "cuda12", None, {"B": "2"})),
]  # fmt: skip


@pytest.mark.parametrize(("requested", "quota", "backend", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_choice(requested, quota, backend, expected) -> None:  # type: ignore[no-untyped-def]
    assert choose(requested, ENVS, quota, backend) == expected


REFUSALS = [
    ("a built-in image without quota: 403 naming the quota", "secret", "kubernetes", 403,
     ["train environment 'secret' needs quota train_environment:secret",
      "yours: cuda12, hai_base", "hai-cli admin quota set"]),
    ("an unknown name: 422 listing the known ones", "nope", "kubernetes", 422,
     ["no train environment 'nope' (known: cuda12, hai_base, secret"]),
    ("the local backend cannot run an image", "hai_base", "local", 422,
     ["-i hai_base: this platform's local backend", "cannot run an image", "drop -i"]),
    ("... nor a custom one", "reg/me/exp:3", "local", 422, ["cannot run an image"]),
]  # fmt: skip


@pytest.mark.parametrize(("requested", "backend", "status", "words"),
                         [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])  # fmt: skip
def test_refusals(requested: str, backend: str, status: int, words: list[str]) -> None:
    with pytest.raises(ImageRefused) as err:
        choose(requested, ENVS, MINE, backend)
    assert err.value.status == status
    for w in words:
        assert w in err.value.message, (w, err.value.message)
