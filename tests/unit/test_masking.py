"""The masker: text, data before encoding, errors, and the secrets a use case collects."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from shipway.errors import ConfigErrors, NotFound, ShipwayError, Where
from shipway.masking import LinePieces, Masker, remember, watching
from shipway.model import Function
from shipway.targets.local.deployed_function import DeployedFunction
from shipway.targets.local.releases import DeployedService, ReleaseManifest

ODD = "q\"uo\\te'd-é\nnext-line-part"


def test_text_is_masked_longest_secret_first() -> None:
    mask = Masker(["abcd", "abcdef", "x"])  # one character would mask everything: ignored
    assert mask("1 abcdef 2 abcd 3 x") == "1 *** 2 *** 3 x"


def test_data_is_masked_before_encoding_whatever_the_encoding_escapes() -> None:
    mask = Masker([ODD])
    data = {"k": [ODD, f"pre-{ODD}-post", 3, None], ODD: (True, "plain")}
    masked = mask.data(data)
    assert masked == {"k": ["***", "pre-***-post", 3, None], "***": [True, "plain"]}
    for text in (
        json.dumps(masked),
        json.dumps(masked, ensure_ascii=False),
        yaml.safe_dump(masked, width=20),
    ):
        assert "next-line-part" not in text and "uo" not in text


def test_text_masking_knows_json_and_repr_forms_but_yaml_folding_needs_data_masking() -> None:
    mask = Masker([ODD])
    for text in (
        json.dumps({"k": ODD}),
        json.dumps({"k": ODD}, ensure_ascii=False),
        repr({"k": ODD}),  # print(dict) in a build or a handler
    ):
        assert "uo" not in mask(text) and "next-line-part" not in mask(text), text
    long = " ".join(f"word{i}" for i in range(60))
    folded = yaml.safe_dump({"k": long}, width=40)
    assert "word30" in Masker([long])(folded)  # why print and synth mask data, then encode
    assert "word30" not in yaml.safe_dump(Masker([long]).data({"k": long}), width=40)


def test_an_error_is_masked_in_message_place_and_hint_and_keeps_its_type() -> None:
    mask = Masker(["s3cret-value"])
    exc = NotFound(
        "file `s3cret-value.yml` does not exist",
        Where("a/s3cret-value.yml", 3, "custom.s3cret-value"),
        "create s3cret-value.yml",
    )
    masked = mask.error(exc)
    assert isinstance(masked, NotFound)
    assert str(masked) == (
        "a/***.yml:3: `custom.***`: file `***.yml` does not exist (create ***.yml)"
    )
    clean = ShipwayError("nothing secret", Where("f", 1))
    assert mask.error(clean) is clean
    many = mask.error(ConfigErrors([clean, exc]))
    assert isinstance(many, ConfigErrors)
    assert [str(e) for e in many.errors] == [str(clean), str(masked)]


def test_secrets_remembered_while_watching_reach_the_outermost_watcher() -> None:
    remember(["ignored-outside"])
    with watching() as outer:
        remember(["first-secret"])
        with watching() as inner:
            remember(["second-secret", ""])
        assert inner is outer
    assert outer == {"first-secret", "second-secret"}
    with watching() as fresh:
        assert fresh == set()


def test_release_manifest_keeps_secret_values_out_of_release_json(tmp_path: Path) -> None:
    fn = Function(
        name="f",
        handler="h.f",
        runtime="python3.11",
        timeout=6,
        memory_size=128,
        environment={"API_KEY": "literal-key", "DSN": "pg://u:pw-123456@h", "TABLE": "t"},
    )
    deployed = DeployedFunction.from_function(fn, secrets={"pw-123456"})
    assert deployed.secret_keys == ("API_KEY", "DSN")
    assert deployed.masker("pg://u:pw-123456@h literal-key t") == "*** *** t"
    manifest = ReleaseManifest(
        "dev", 1, "c0ffee", 0.0, {"api": DeployedService("api", "api", "ab", {"f": deployed})}
    )
    manifest.write(tmp_path)
    public = (tmp_path / "release.json").read_text()
    assert "literal-key" not in public and "pw-123456" not in public
    assert json.loads(public)["services"]["api"]["functions"]["f"]["environment"] == {
        "API_KEY": "***",
        "DSN": "***",
        "TABLE": "t",
    }
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0
    assert (tmp_path / "release.json").stat().st_mode & 0o077 == 0
    assert ReleaseManifest.load(tmp_path) == manifest  # the workers get the real values


def test_a_long_line_is_cut_in_pieces_never_inside_a_secret() -> None:
    secret = "s3cret-value-0123456789"
    mask = Masker([secret])
    pieces = LinePieces(mask, max_line=100)
    # the secret straddles the 100-byte mark, in the same read and across two reads
    data = b"x" * 90 + secret.encode() + b"y" * 200
    out = pieces.feed(data[:95]) + pieces.feed(data[95:]) + pieces.rest()
    assert b"".join(out) == data  # nothing lost, nothing added
    assert all(len(p) <= 100 + len(secret) for p in out)  # bounded
    assert mask(out[0].decode()) == "x" * 90 + "***"
    assert all("s3cret" not in mask(p.decode()) and "0123" not in mask(p.decode()) for p in out)
    assert pieces.feed(b"a\nb\nc") == [b"a", b"b"] and pieces.rest() == [b"c"]


def test_a_secret_spelled_as_a_logical_id_is_masked_but_short_forms_are_not() -> None:
    mask = Masker(["Deploy-Key_42!", "a-b"])
    for leaked in (
        "DeployDashKeyUnderscore42",
        "DeployDashkey42",
        "DeployDashKey42",
        "DeployKey42",
    ):
        assert mask(f"ApiGatewayResource{leaked}Get") == "ApiGatewayResource***Get", leaked
    assert mask("ADashb and ab stay") == "ADashb and ab stay"  # `a-b`'s forms are too short
