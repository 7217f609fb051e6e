#!/usr/bin/env bash
# `make serve`: the openEO API on 127.0.0.1:8080 in local mode (jobs on local Spark), user demo/demo,
# over the sample catalog `make demo` uses, with a ZooKeeper of its own (the Debian package) as the
# job registry. Runs until interrupted (Ctrl-C stops the API and the ZooKeeper).
set -euo pipefail
BIN=${BIN:-.venv/bin}
SAMPLE=${SAMPLE:-build/sample}
STATE=${STATE:-build/serve}
PORT=${PORT:-8080}
ZK_PORT=${ZK_PORT:-21810}

bash scripts/install-debian.sh zookeeper
mkdir -p "$STATE/zk/data"
[ -f "$SAMPLE/layercatalog.json" ] || "$BIN/sparkeo" sample-data "$SAMPLE"

cat > "$STATE/zk/zoo.cfg" <<CFG
tickTime=2000
dataDir=$PWD/$STATE/zk/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
CFG
J=/usr/share/java
java -Xmx256m -XX:+UseSerialGC -cp "$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/slf4j-api.jar:$J/slf4j-nop.jar" \
  org.apache.zookeeper.server.ZooKeeperServerMain "$STATE/zk/zoo.cfg" > "$STATE/zk/server.log" 2>&1 &
ZK_PID=$!
trap 'kill $ZK_PID 2>/dev/null || true' EXIT
for _ in $(seq 60); do
  (exec 3<>/dev/tcp/127.0.0.1/$ZK_PORT && printf srvr >&3 && grep -q standalone <&3) 2>/dev/null && break
  sleep 0.5
done

# the demo user's password hash (bcrypt): only the hash is written
[ -f "$STATE/users" ] || "$BIN/python" -c \
  'from sparkeo.api.auth import hash_password; print("demo:" + hash_password("demo"))' > "$STATE/users"

cat <<MSG

sparkeo serves the openEO API on http://127.0.0.1:$PORT (user demo, password demo). Try it:

    import openeo
    conn = openeo.connect("http://127.0.0.1:$PORT").authenticate_basic("demo", "demo")
    cube = conn.load_collection("sample-s2", temporal_extent=["2023-03-01", "2023-06-01"], bands=["B04", "B08"])
    cube.ndvi().max_time().execute_batch("ndvi.tif")

MSG
export SPARKEO_API_TOKEN_SECRET=${SPARKEO_API_TOKEN_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
"$BIN/sparkeo" serve --port "$PORT" --users "$STATE/users" --catalog "$SAMPLE/layercatalog.json" \
  --zookeeper "127.0.0.1:$ZK_PORT" --results-root results/api
