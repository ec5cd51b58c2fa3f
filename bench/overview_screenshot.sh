#!/usr/bin/env bash
# Regenerates the README's screenshot of the dashboard overview: the browser test scripts a
# day of mentions (English news, a Chinese complaint copied on Weibo, a forum post that
# opens a food-safety incident), checks the page's figures, and keeps a screenshot of it at
# 1440 px; this copies that screenshot to docs/images/overview.png.
# Needs what the browser test needs: chromium and chromium-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f target/test-artifacts/browser-overview-1440.png
cargo test --test browser -- --exact the_overview_shows_a_scripted_day_per_source_and_language_with_its_charts
cp target/test-artifacts/browser-overview-1440.png docs/images/overview.png
echo "docs/images/overview.png updated"
