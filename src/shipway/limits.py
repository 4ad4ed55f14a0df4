"""Every limit Shipway puts on what a repository may ask of it, in one place.

A pushed commit is untrusted input: each file read, each parsed document and each resolved
value has a bound, so a hostile or broken commit ends in a clear error (exit status 2), not
in a crash, a hang or an exhausted machine. Real projects stay far below these figures (the
Serverless Framework's own files nest fewer than 20 levels).
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- files

#: The largest config file read (shipway.yml, serverless.yml, buildspec.yml, `.env`
#: layers, `${file()}` targets).
MAX_CONFIG_BYTES = 4 * 1024 * 1024

#: One `.env` value, expanded: Linux passes at most 128 KiB per environment string.
MAX_ENV_VALUE_CHARS = 128 * 1024
#: All `.env` values of one environment and service, expanded.
MAX_ENV_TOTAL_CHARS = 1024 * 1024

# --------------------------------------------------------------------------- documents

#: How deep YAML / JSON collections may nest (also for resolved values).
MAX_DEPTH = 100
#: How many values a YAML document may hold with its aliases expanded (billion laughs).
MAX_NODES = 250_000

# --------------------------------------------------------------------------- the resolver

#: The longest string a `${...}` may resolve to.
MAX_VALUE_CHARS = 1024 * 1024
#: The work one document's resolution may do, in about bytes: each character built
#: counts 1, each value copied or walked 64 (so about a million values in all).
MAX_RESOLVE_WORK = 64 * 1024 * 1024
#: How deep `${...}` may nest inside one string (`${self:${self:...}}`).
MAX_VARIABLE_NESTING = 32
#: How long a chain of references (`a: ${self:b}`, `b: ${self:c}` …) may be.
MAX_REFERENCE_CHAIN = 40

# --------------------------------------------------------------------------- names

#: shipway.yml's `project` and environment names.
MAX_PROJECT_NAME = 40
MAX_ENVIRONMENT_NAME = 40
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
#: CloudFormation: a stack name is at most 128 characters, a letter then letters, digits, `-`.
MAX_STACK_NAME = 128
STACK_NAME_PATTERN = re.compile(r"[A-Za-z][-A-Za-z0-9]*\Z")
#: Lambda: a function name is at most 64 characters.
MAX_FUNCTION_NAME = 64
#: A service path: each part a file name the system can hold, the whole kept short enough
#: to sit under the state and workspace folders.
MAX_PATH_PART_BYTES = 255
MAX_SERVICE_PATH_BYTES = 512
#: The Serverless Framework's stage names (`provider.stage`, `--stage`): letters of either
#: case, digits and `-`; the stack name `<service>-<stage>` keeps CloudFormation's limit.
STAGE_PATTERN = re.compile(r"[A-Za-z0-9-]+\Z")
#: A branch name in shipway.yml.
MAX_BRANCH_NAME = 255
#: An AWS region (`eu-west-2`, `us-gov-west-1`), checked before any AWS call.
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$"

#: Lambda: memory from 128 to 10,240 MB, a timeout of at most 900 seconds.
MIN_LAMBDA_MEMORY_MB = 128
MAX_LAMBDA_MEMORY_MB = 10240
MAX_LAMBDA_TIMEOUT_S = 900

#: `releases.keep`: how many releases an environment keeps for rollback, at most.
MAX_RELEASES_KEPT = 10_000

# --------------------------------------------------------------------------- durations

#: CodeBuild's longest build timeout: 36 hours.
MAX_BUILD_TIMEOUT_S = 36 * 3600
#: CodePipeline's manual approvals expire after at most 7 days.
MAX_APPROVAL_TIMEOUT_S = 7 * 86400
#: The longest interval between polls of a remote source.
MAX_POLL_INTERVAL_S = 86400

# --------------------------------------------------------------------------- other input

#: How deep `shipway invoke --data` JSON may nest.
MAX_JSON_DEPTH = MAX_DEPTH


def megabytes(size: int) -> str:
    """`12.3 MB` — how an error states a size."""
    return f"{size / (1024 * 1024):.1f} MB"
