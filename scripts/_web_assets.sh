# Sourced by scripts/run and scripts/test: the dashboard's Bootstrap and uPlot, and Swagger UI
# for /docs, from npm (install scripts off: none of them needs one).
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed to install the dashboard's assets: install Node.js and npm (on Debian or Ubuntu: sudo apt-get install npm), then run this again." >&2
  exit 1
fi
npm ci --prefix carecall/web --no-audit --no-fund --ignore-scripts --silent
