#!/bin/bash
# Container entry point, compatible with the spark-on-k8s protocol of Apache Spark's own image
# (resource-managers/kubernetes/docker/src/main/dockerfiles/spark/entrypoint.sh, Apache-2.0):
#   driver ARGS...    spark-submit in client mode inside the driver pod (what the operator runs)
#   executor          the executor backend JVM, configured by the SPARK_* variables Spark sets
#   anything else     run as given (e.g. `sparkeo track` in the tracker CronJob)
# SPARKEO_ENTRYPOINT_DRY_RUN=1 prints the command instead of running it (for checking an image).
set -eo pipefail

# Pods may run with an arbitrary uid (OpenShift): give it a passwd entry, Spark/Hadoop need a name.
attempt_setup_fake_passwd_entry() {
  local myuid mygid
  myuid="$(id -u)"
  if ! getent passwd "$myuid" >/dev/null 2>&1 && [ -w /etc/passwd ]; then
    mygid="$(id -g)"
    echo "$myuid:x:$myuid:$mygid:${SPARK_USER_NAME:-anonymous uid}:${SPARK_HOME:-/opt/spark}:/bin/false" >> /etc/passwd
  fi
}

SPARK_HOME="${SPARK_HOME:-/opt/spark}"
if [ -z "$JAVA_HOME" ] && command -v java >/dev/null 2>&1; then
  JAVA_HOME="$(java -XshowSettings:properties -version 2>&1 >/dev/null | awk '/java.home/ {print $3}')"
fi

SPARK_CLASSPATH="${SPARK_CLASSPATH:+$SPARK_CLASSPATH:}${SPARK_HOME}/jars/*"
SPARK_EXECUTOR_JAVA_OPTS=()
for v in "${!SPARK_JAVA_OPT_@}"; do
  SPARK_EXECUTOR_JAVA_OPTS+=("${!v}")
done
if [ -n "$SPARK_EXTRA_CLASSPATH" ]; then
  SPARK_CLASSPATH="$SPARK_CLASSPATH:$SPARK_EXTRA_CLASSPATH"
fi
if [ -n "${PYSPARK_PYTHON+x}" ]; then export PYSPARK_PYTHON; fi
if [ -n "${PYSPARK_DRIVER_PYTHON+x}" ]; then export PYSPARK_DRIVER_PYTHON; fi
if [ -n "${HADOOP_CONF_DIR+x}" ]; then SPARK_CLASSPATH="$HADOOP_CONF_DIR:$SPARK_CLASSPATH"; fi
if [ -n "${SPARK_CONF_DIR+x}" ]; then
  SPARK_CLASSPATH="$SPARK_CONF_DIR:$SPARK_CLASSPATH"
else
  SPARK_CLASSPATH="$SPARK_HOME/conf:$SPARK_CLASSPATH"
fi
SPARK_CLASSPATH="$SPARK_CLASSPATH:$PWD"

case "$1" in
  driver)
    shift 1
    # jobs.spark.session must keep the master spark-submit was given (k8s://...)
    export SPARKEO_UNDER_SPARK_SUBMIT=1
    CMD=("$SPARK_HOME/bin/spark-submit"
         --conf "spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS"
         --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS"
         --deploy-mode client
         "$@")
    attempt_setup_fake_passwd_entry
    ;;
  executor)
    shift 1
    CMD=("${JAVA_HOME}/bin/java"
         "${SPARK_EXECUTOR_JAVA_OPTS[@]}"
         -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY"
         -cp "$SPARK_CLASSPATH${SPARK_DIST_CLASSPATH:+:$SPARK_DIST_CLASSPATH}"
         org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend
         --driver-url "$SPARK_DRIVER_URL"
         --executor-id "$SPARK_EXECUTOR_ID"
         --cores "$SPARK_EXECUTOR_CORES"
         --app-id "$SPARK_APPLICATION_ID"
         --hostname "$SPARK_EXECUTOR_POD_IP"
         --resourceProfileId "$SPARK_RESOURCE_PROFILE_ID"
         --podName "$SPARK_EXECUTOR_POD_NAME")
    attempt_setup_fake_passwd_entry
    ;;
  *)
    CMD=("$@")
    ;;
esac

if [ "${SPARKEO_ENTRYPOINT_DRY_RUN:-}" = "1" ]; then
  printf '%s\n' "${CMD[@]}"
  exit 0
fi
if [ -x /usr/bin/tini ]; then
  exec /usr/bin/tini -s -- "${CMD[@]}"
fi
exec "${CMD[@]}"
