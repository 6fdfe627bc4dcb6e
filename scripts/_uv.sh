# Sourced by scripts/run and scripts/test: make sure `uv` is available (installed from PyPI).
if ! command -v uv >/dev/null 2>&1; then
  echo "Installing uv (the Python package manager carecall uses)…"
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
