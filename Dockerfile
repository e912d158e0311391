# gympulse: one image for every role; the role is the command
# (ingest | web | analyze | collect | grafana ...). See docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY gympulse ./gympulse
COPY collectors ./collectors
COPY pipeline ./pipeline
COPY dashboards ./dashboards
# Exact versions from requirements/constraints.txt (refreshed by scripts/lock).
RUN pip install -c requirements/constraints.txt ".[server,collector]" \
    && useradd --system --uid 10001 --home /data gympulse \
    && mkdir -p /data && chown gympulse /data
USER gympulse
WORKDIR /data
ENTRYPOINT ["gympulse"]
CMD ["--help"]
