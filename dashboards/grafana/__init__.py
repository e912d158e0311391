"""Grafana dashboards as code and their sync through Grafana's HTTP API."""
