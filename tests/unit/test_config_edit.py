"""shipway.yml edited as text: a block added or removed where it belongs, everything else
of the user's file (comments, order, quoting, layout) byte for byte as it was."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from shipway.config.edit import (
    add_environment,
    copy_environment,
    remove_environment,
    scalar,
)
from shipway.errors import ShipwayError

BLOCKS = textwrap.dedent(
    """\
    # the team's pipeline
    project: ledger
    environments:   # one block each
      dev:
        branch: dev      # busy
        target: local
      prod:
        branch: main
        stage: Prod
        params:
          LOG_LEVEL: warning   # quiet
    # uat comes later
    build: {concurrency: 2}
    """
)

ONE_LINE = textwrap.dedent(
    """\
    project: ledger
    environments:
      dev:  {branch: dev,  target: local}   # dev
      prod: {branch: main, target: local}
    """
)


def test_a_new_block_goes_after_the_last_environment_in_the_files_own_layout() -> None:
    out = add_environment(BLOCKS, "qa", "qa")
    assert out == BLOCKS.replace(
        "LOG_LEVEL: warning   # quiet\n",
        "LOG_LEVEL: warning   # quiet\n  qa:\n    branch: qa\n    target: local\n",
    )
    assert yaml.safe_load(out)["environments"]["qa"] == {"branch": "qa", "target": "local"}
    assert yaml.safe_load(out)["build"] == {"concurrency": 2}


def test_one_line_blocks_get_a_one_line_block_and_aws_a_region() -> None:
    out = add_environment(ONE_LINE, "qa", "qa", {"aws": {"region": "eu-west-2"}})
    assert out == ONE_LINE + "  qa: {branch: qa, target: {aws: {region: eu-west-2}}}\n"


def test_a_copy_keeps_the_source_blocks_text_with_its_branch_and_stage_replaced() -> None:
    out = copy_environment(BLOCKS, "prod", "uat", "release/uat")
    copied = (
        "  uat:\n    branch: release/uat\n    stage: uat\n    params:\n"
        "      LOG_LEVEL: warning   # quiet\n"
    )
    assert out == BLOCKS.replace("# uat comes later\n", copied + "# uat comes later\n")
    loaded = yaml.safe_load(out)["environments"]
    assert loaded["prod"]["stage"] == "Prod"  # the source is untouched


def test_copy_of_a_one_line_block() -> None:
    out = copy_environment(ONE_LINE, "dev", "qa", "qa")
    assert out.endswith("  qa:  {branch: qa,  target: local}   # dev\n")


def test_flow_mapping_of_environments() -> None:
    text = "project: x\nenvironments: {dev: {branch: dev}, qa: {branch: qa}}\n"
    added = add_environment(text, "prod", "main")
    assert yaml.safe_load(added)["environments"]["prod"] == {"branch": "main", "target": "local"}
    assert remove_environment(text, "dev") == "project: x\nenvironments: {qa: {branch: qa}}\n"
    assert remove_environment(text, "qa") == "project: x\nenvironments: {dev: {branch: dev}}\n"


def test_remove_takes_the_blocks_lines_and_leaves_the_comments_around_it() -> None:
    out = remove_environment(BLOCKS, "prod")
    assert out == BLOCKS.replace(
        "  prod:\n    branch: main\n    stage: Prod\n    params:\n"
        "      LOG_LEVEL: warning   # quiet\n",
        "",
    )
    assert remove_environment(ONE_LINE, "dev") == ONE_LINE.replace(
        "  dev:  {branch: dev,  target: local}   # dev\n", ""
    )


def test_an_existing_name_is_refused_with_its_line() -> None:
    with pytest.raises(ShipwayError) as caught:
        add_environment(BLOCKS, "prod", "other")
    assert str(caught.value).startswith("shipway.yml:7: `environments.prod`: environment `prod`")


@pytest.mark.parametrize("value", ["dev", "feature/*", "true", "1.0", "null", "a: b", "#x", "ü"])
def test_scalars_read_back_as_the_same_string(value: str) -> None:
    assert yaml.safe_load(f"k: {scalar(value)}")["k"] == value
