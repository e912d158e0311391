#!/bin/sh
# Make a private site CA and a server certificate for Mosquitto's TLS listener (8883).
# Usage: config/mosquitto/make-certs.sh OUTDIR BROKER_NAME [BROKER_IP]
#   e.g. config/mosquitto/make-certs.sh config/mosquitto/certs broker.gym.lan 192.168.1.10
# Writes OUTDIR/ca.crt (give it to every collector: GYMPULSE_MQTT__TLS_CA), ca.key (keep it
# offline), server.crt and server.key (Mosquitto's). Collectors must connect with the name
# or address in the certificate (mqtts://broker.gym.lan:8883).
set -eu
out=${1:?output directory}
name=${2:?broker host name}
ip=${3:-}
days=${DAYS:-825}
mkdir -p "$out"
umask 077
san="DNS:$name"
[ -n "$ip" ] && san="$san,IP:$ip"
openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days 3650 \
    -subj "/CN=gympulse site CA" -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
openssl req -new -newkey rsa:3072 -nodes -sha256 \
    -subj "/CN=$name" -keyout "$out/server.key" -out "$out/server.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$out/server.ext"
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
    -CAcreateserial -days "$days" -sha256 -extfile "$out/server.ext" -out "$out/server.crt" \
    2>/dev/null
rm -f "$out/server.csr" "$out/server.ext" "$out/ca.srl"
chmod 644 "$out/ca.crt" "$out/server.crt"
echo "made $out/ca.crt and $out/server.crt for $san"
