#!/bin/sh
# Make a private site CA and a server certificate signed by it: Mosquitto's TLS listener
# (8883) and the web app's HTTPS proxy (Caddy, config/caddy/Caddyfile).
# Usage: [CERT=server|web] config/mosquitto/make-certs.sh OUTDIR HOST_NAME [HOST_IP]
#   e.g. config/mosquitto/make-certs.sh config/mosquitto/certs broker.gym.lan 192.168.1.10
#        CERT=web config/mosquitto/make-certs.sh config/mosquitto/certs pulse.gym.lan
# Writes OUTDIR/ca.crt (give it to every collector: GYMPULSE_MQTT__TLS_CA, and to the
# browsers of the coach and the TVs), ca.key (keep it offline), and $CERT.crt, $CERT.key
# (CERT=server, the default: Mosquitto's; CERT=web: Caddy's). A CA already in OUTDIR is
# kept and signs the new certificate, so what trusts it keeps trusting. Clients must use
# the name or address in the certificate (mqtts://broker.gym.lan:8883, https://pulse.gym.lan).
set -eu
out=${1:?output directory}
name=${2:?host name}
ip=${3:-}
cert=${CERT:-server}
days=${DAYS:-825}
case $cert in
server | web) ;;
*) echo "CERT must be server or web, not '$cert'" >&2; exit 2 ;;
esac
mkdir -p "$out"
umask 077
san="DNS:$name"
[ -n "$ip" ] && san="$san,IP:$ip"
if [ -s "$out/ca.crt" ] && [ -s "$out/ca.key" ]; then
    echo "signing with the CA already in $out/ca.crt"
else
    openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days 3650 \
        -subj "/CN=gympulse site CA" -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
fi
openssl req -new -newkey rsa:3072 -nodes -sha256 \
    -subj "/CN=$name" -keyout "$out/$cert.key" -out "$out/$cert.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$out/$cert.ext"
openssl x509 -req -in "$out/$cert.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
    -CAcreateserial -days "$days" -sha256 -extfile "$out/$cert.ext" -out "$out/$cert.crt" \
    2>/dev/null
rm -f "$out/$cert.csr" "$out/$cert.ext" "$out/ca.srl"
chmod 644 "$out/ca.crt" "$out/$cert.crt"
echo "made $out/$cert.crt for $san"
