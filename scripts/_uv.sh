# Sourced by scripts/run, scripts/test and scripts/carecall: make sure `uv` is available.
# pip puts it in the user's scripts folder (~/.local/bin on Linux), which is often not on PATH:
# look there before installing it again, and put that folder on PATH for what follows.
if ! command -v uv >/dev/null 2>&1; then
  # (It prints the folder even where it exits non-zero: inside a virtual environment the user
  # site is off, and says so by its exit code.)
  _uv_user_base="$(python3 -m site --user-base 2>/dev/null || true)"
  _uv_user_bin="${_uv_user_base:-$HOME/.local}/bin"
  export PATH="$_uv_user_bin:$PATH"
  if ! command -v uv >/dev/null 2>&1; then
    echo "Installing uv (the Python package manager carecall uses)…"
    python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  fi
  unset _uv_user_base _uv_user_bin
fi
