#!/bin/sh
# Chinese sentiment throughput, tocsin's zh::score vs SnowNLP 0.12 (SnowNLP(text).sentiments),
# on the same sample of shopping reviews in the same run.
#
#   bench/sentiment_zh_vs_snownlp.sh [STRIDE] [ITERS]    (run from anywhere; defaults 20 and 200)
#
# The sample is every STRIDE-th review of online_shopping_10_cats.csv (about 3,100 texts at
# 20). SnowNLP scores it once (it manages about a hundred texts a second); tocsin scores it
# ITERS times. Both run on one thread. Rates are given by wall clock and by the thread's CPU
# time; the goal is judged on CPU time, which other work on a shared machine does not skew
# (both ratios are printed).
#
# Environment: CSV (default ../shared/data/sentiment/zh/online_shopping_10_cats.csv), NICE
# (default 10), VENV (default target/bench-venv: snownlp is installed there, never in the product).
set -eu

STRIDE=${1:-20}
ITERS=${2:-200}
CSV=${CSV:-../shared/data/sentiment/zh/online_shopping_10_cats.csv}
NICE=${NICE:-10}
VENV=${VENV:-target/bench-venv}

cd "$(dirname "$0")/.."
[ -f "$CSV" ] || { echo "reviews not found: $CSV" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'snownlp>=0.12,<0.13'
SN_VERSION=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("snownlp"))')
PY_VERSION=$("$VENV/bin/python" -c 'import platform; print(platform.python_version())')

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "== building the Rust bench (release profile)"
nice -n "$NICE" cargo bench --bench sentiment_zh --no-run >/dev/null 2>&1 || nice -n "$NICE" cargo bench --bench sentiment_zh --no-run

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "== snownlp $SN_VERSION (Python $PY_VERSION), 1 pass"
nice -n "$NICE" "$VENV/bin/python" bench/snownlp_peer.py "$CSV" "$STRIDE" | tee "$OUT/py"
echo "== tocsin zh::score, $ITERS passes"
TOCSIN_BENCH_STRIDE="$STRIDE" TOCSIN_BENCH_ITERS="$ITERS" nice -n "$NICE" cargo bench --bench sentiment_zh 2>/dev/null | tee "$OUT/rs"

field() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
PY_TPS=$(field "$OUT/py" texts_per_s)
RS_TPS=$(field "$OUT/rs" texts_per_s)
PY_CPU=$(field "$OUT/py" cpu_texts_per_s)
RS_CPU=$(field "$OUT/rs" cpu_texts_per_s)
PY_RSS=$(field "$OUT/py" max_rss_kb)
RS_HEAP=$(field "$OUT/rs" model_heap_bytes)
RS_FILE=$(field "$OUT/rs" model_file_bytes)

echo "== summary (same $(field "$OUT/rs" texts) reviews, single thread)"
printf '%-12s %16s %16s\n' "" "texts/s (wall)" "texts/s (cpu)"
printf '%-12s %16s %16s\n' "snownlp" "$PY_TPS" "$PY_CPU"
printf '%-12s %16s %16s\n' "tocsin" "$RS_TPS" "$RS_CPU"
WALL_RATIO=$(awk -v a="$RS_TPS" -v b="$PY_TPS" 'BEGIN { printf "%.0f", a / b }')
RATIO=$(awk -v a="$RS_CPU" -v b="$PY_CPU" 'BEGIN { printf "%.0f", a / b }')
echo "ratio       ${RATIO}x by CPU time, ${WALL_RATIO}x by wall clock (goal >= 1000x)"
echo "memory      tocsin model: file $RS_FILE bytes, loaded $RS_HEAP heap bytes; snownlp process peak RSS $PY_RSS kB"
GOAL=missed
awk -v r="$RATIO" 'BEGIN { exit !(r >= 1000) }' && GOAL=met
echo "goal $GOAL"
echo "RESULT texts=$(field "$OUT/rs" texts) snownlp_texts_per_s=$PY_TPS tocsin_texts_per_s=$RS_TPS snownlp_cpu_texts_per_s=$PY_CPU tocsin_cpu_texts_per_s=$RS_CPU ratio=$RATIO wall_ratio=$WALL_RATIO model_file_bytes=$RS_FILE model_heap_bytes=$RS_HEAP snownlp_max_rss_kb=$PY_RSS goal=$GOAL"
