# Coursewright developer recipes; `just` alone lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

default:
    @just --list

# start the system (embedded servers as needed) until Ctrl-C
up *args:
    coursewright up {{args}}

# run the test suite as CI does; extra arguments go to pytest
test *args:
    coursewright test {{args}}

# run every tests/bench/bench_*.py in turn and gather their RESULT lines
bench:
    #!/usr/bin/env bash
    set -uo pipefail
    shopt -s nullglob
    benches=(tests/bench/bench_*.py)
    [ ${#benches[@]} -gt 0 ] || { echo "no tests/bench/bench_*.py"; exit 1; }
    results=$(mktemp); failed=()
    for bench in "${benches[@]}"; do
        echo "== $bench"
        python3 "$bench" | tee -a "$results" || failed+=("$bench")
    done
    echo "== results"
    grep '^RESULT ' "$results" || true
    rm -f "$results"
    if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}"; exit 1; fi

# ruff, formatting, mypy strict on every package (pyproject [tool.mypy] files), import contracts
lint:
    ruff check .
    ruff format --check .
    mypy
    lint-imports

# format the code and apply ruff's safe fixes
fmt:
    ruff format .
    ruff check --fix .

# create the database if needed and apply migrations
migrate:
    coursewright migrate
