#!/bin/sh
# Build the password file from the environment, then run Mosquitto.
# MQTT_INGEST_PASSWORD, MQTT_WEB_PASSWORD: the pipeline's users.
# MQTT_COLLECTOR_PASSWORD: the collector user "$SITE/$COLLECTOR_NAME" (default name "edge").
# More collectors: hashed lines made with `mosquitto_passwd -c collectors.passwd SITE/NAME`
# in /mosquitto/config/collectors.passwd are added as they are.
set -eu
pw=/mosquitto/data/passwd
umask 077
: > "$pw"
mosquitto_passwd -b "$pw" ingest "${MQTT_INGEST_PASSWORD:?}"
mosquitto_passwd -b "$pw" web "${MQTT_WEB_PASSWORD:?}"
mosquitto_passwd -b "$pw" "${SITE:?}/${COLLECTOR_NAME:-edge}" "${MQTT_COLLECTOR_PASSWORD:?}"
if [ -f /mosquitto/config/collectors.passwd ]; then
    cat /mosquitto/config/collectors.passwd >> "$pw"
fi
chown mosquitto:mosquitto "$pw" 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf
