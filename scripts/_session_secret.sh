# Sourced by scripts/run: on first run, give this installation its own random SESSION_SECRET in
# .env (it signs the sign-in sessions and the per-call tokens; the built-in default is public).
# A secret already set, in the environment or in .env, is kept; .env.example's default is
# replaced. Needs only coreutils.
_default_session_secret="dev-only-change-me"
if [ -z "${SESSION_SECRET:-}" ] || [ "${SESSION_SECRET}" = "$_default_session_secret" ]; then
  if [ -n "${SESSION_SECRET:-}" ]; then
    : # the default, set in the environment (which outranks .env): the server warns about it
  elif [ -f .env ] && grep -Eq "^[[:space:]]*(export[[:space:]]+)?SESSION_SECRET=[\"']?[^\"'[:space:]#]" .env \
    && ! grep -Eq "^[[:space:]]*(export[[:space:]]+)?SESSION_SECRET=[\"']?${_default_session_secret}[\"']?[[:space:]]*$" .env; then
    : # its own secret is in .env already
  else
    _new_session_secret="$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')"
    touch .env
    chmod 600 .env
    # Drop an empty or default SESSION_SECRET line (.env.example's), then add the new one.
    grep -Ev "^[[:space:]]*(export[[:space:]]+)?SESSION_SECRET=" .env >.env.new || true
    printf '%s\n' "# Made by scripts/run on the first run: signs sessions and per-call tokens. Keep it secret." \
      "SESSION_SECRET=${_new_session_secret}" >>.env.new
    chmod 600 .env.new
    mv .env.new .env
    unset _new_session_secret
    echo "carecall: wrote a new random SESSION_SECRET to .env (keep that file private)."
  fi
fi
unset _default_session_secret
