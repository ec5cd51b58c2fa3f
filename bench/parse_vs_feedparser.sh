#!/bin/sh
# Parse throughput, tocsin vs Python feedparser 6, over the same corpus in the same run.
#
#   bench/parse_vs_feedparser.sh [ITERS]      (run from the project root; default 10 passes)
#
# Environment: CORPUS (default ../shared/data/feeds/feedparser), NICE (default 10),
# VENV (default target/bench-venv: feedparser is installed there, never in the product).
set -eu

ITERS=${1:-10}
CORPUS=${CORPUS:-../shared/data/feeds/feedparser}
NICE=${NICE:-10}
VENV=${VENV:-target/bench-venv}

cd "$(dirname "$0")/.."
[ -d "$CORPUS" ] || { echo "corpus not found: $CORPUS" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'feedparser>=6,<7'
FP_VERSION=$("$VENV/bin/python" -c 'import feedparser; print(feedparser.__version__)')
PY_VERSION=$("$VENV/bin/python" -c 'import platform; print(platform.python_version())')

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "== building the Rust bench (release profile)"
nice -n "$NICE" cargo bench --bench parse --no-run >/dev/null 2>&1 || nice -n "$NICE" cargo bench --bench parse --no-run

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "== feedparser $FP_VERSION (Python $PY_VERSION), $ITERS passes"
nice -n "$NICE" "$VENV/bin/python" bench/feedparser_parse.py "$CORPUS" "$ITERS" | tee "$OUT/py"
echo "== tocsin parse_feed, $ITERS passes"
TOCSIN_BENCH_CORPUS="$CORPUS" TOCSIN_BENCH_ITERS="$ITERS" nice -n "$NICE" cargo bench --bench parse 2>/dev/null | tee "$OUT/rs"

field() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
PY_FPS=$(field "$OUT/py" files_per_s)
RS_FPS=$(field "$OUT/rs" files_per_s)
PY_MBS=$(field "$OUT/py" mb_per_s)
RS_MBS=$(field "$OUT/rs" mb_per_s)

echo "== summary ($ITERS passes over $(field "$OUT/rs" files) files, single thread)"
printf '%-12s %12s %10s\n' "" "files/s" "MB/s"
printf '%-12s %12s %10s\n' "feedparser" "$PY_FPS" "$PY_MBS"
printf '%-12s %12s %10s\n' "tocsin" "$RS_FPS" "$RS_MBS"
RATIO=$(awk -v a="$RS_FPS" -v b="$PY_FPS" 'BEGIN { printf "%.1f", a / b }')
echo "ratio       ${RATIO}x (goal >= 20x)"
awk -v r="$RATIO" 'BEGIN { exit !(r >= 20) }' && echo "goal met" || echo "goal MISSED"
