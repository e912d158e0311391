#!/bin/sh
# Build the password file from the environment, set up TLS when certificates exist, then
# run Mosquitto (as root: it drops to the mosquitto user itself, before it reads the
# password file, the ACL and the certificates).
# MQTT_INGEST_PASSWORD, MQTT_WEB_PASSWORD: the pipeline's users.
# MQTT_COLLECTOR_PASSWORD: the collector user "$SITE/$COLLECTOR_NAME" (default name "edge").
# More collectors: hashed lines made with `mosquitto_passwd -c collectors.passwd SITE/NAME`
# in /mosquitto/config/collectors.passwd are added as they are.
# A placeholder, empty or short password stops the broker before it starts (the same rule
# as gympulse's settings: gympulse/settings.py PLACEHOLDERS, MIN_SECRET_CHARS).
set -eu
root=${MOSQUITTO_ROOT:-/mosquitto}
refuse() {
    echo "mosquitto: $1 $2: set a real secret (scripts/make-env writes a .env with random secrets)" >&2
    exit 1
}
check() {
    value=$(eval "printf %s \"\${$1:-}\"")
    case "$(printf %s "$value" | tr 'A-Z' 'a-z')" in
        change-me|changeme|change_me|replace-me|secret|password|example|xxx)
            refuse "$1" "is the placeholder '$value'" ;;
    esac
    [ -n "$value" ] || refuse "$1" "is empty"
    [ "${#value}" -ge 16 ] || refuse "$1" "is too short (${#value} characters, at least 16)"
}
check MQTT_INGEST_PASSWORD
check MQTT_WEB_PASSWORD
check MQTT_COLLECTOR_PASSWORD
pw=$root/data/passwd
umask 077
: > "$pw"
mosquitto_passwd -b "$pw" ingest "$MQTT_INGEST_PASSWORD"
mosquitto_passwd -b "$pw" web "$MQTT_WEB_PASSWORD"
mosquitto_passwd -b "$pw" "${SITE:?}/${COLLECTOR_NAME:-edge}" "$MQTT_COLLECTOR_PASSWORD"
if [ -f "$root/config/collectors.passwd" ]; then
    cat "$root/config/collectors.passwd" >> "$pw"
fi
chown mosquitto:mosquitto "$pw" 2>/dev/null || true

# TLS (8883): only with all three files. The mounted certs are read-only and server.key is
# 0600 for whoever ran make-certs.sh, which the mosquitto user cannot read: copy them to
# files the mosquitto user owns. Without certificates the plain listener still starts.
certs=$root/certs
tls=$root/data/tls
confd=$root/data/conf.d
mkdir -p "$confd"
chmod 0755 "$confd"
rm -f "$confd/tls.conf"
if [ -r "$certs/ca.crt" ] && [ -r "$certs/server.crt" ] && [ -r "$certs/server.key" ]; then
    mkdir -p "$tls"
    cp "$certs/ca.crt" "$certs/server.crt" "$certs/server.key" "$tls/"
    chmod 0644 "$tls/ca.crt" "$tls/server.crt"
    chmod 0600 "$tls/server.key"
    chown -R mosquitto:mosquitto "$tls" 2>/dev/null || true
    cp "$root/config/tls.conf" "$confd/tls.conf"
    chmod 0644 "$confd/tls.conf"
else
    echo "entrypoint: no ca.crt, server.crt and server.key in $certs: TLS listener 8883 off" \
        "(make them with config/mosquitto/make-certs.sh)" >&2
fi
exec mosquitto -c "$root/config/mosquitto.conf"
