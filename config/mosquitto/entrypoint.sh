#!/bin/sh
# Build the password file from the environment, then run Mosquitto.
# MQTT_INGEST_PASSWORD, MQTT_WEB_PASSWORD: the pipeline's users.
# MQTT_COLLECTOR_PASSWORD: the collector user named after the site (SITE).
set -eu
pw=/mosquitto/data/passwd
umask 077
: > "$pw"
mosquitto_passwd -b "$pw" ingest "${MQTT_INGEST_PASSWORD:?}"
mosquitto_passwd -b "$pw" web "${MQTT_WEB_PASSWORD:?}"
mosquitto_passwd -b "$pw" "${SITE:?}" "${MQTT_COLLECTOR_PASSWORD:?}"
chown mosquitto:mosquitto "$pw" 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf
