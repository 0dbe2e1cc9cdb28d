# billsync: a small image that runs the daemon as an unprivileged user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY connectors ./connectors
COPY config ./config
# The vendors' sandboxes (sandboxes/) stay out: a production image serves no fake vendor.
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/billsync --create-home billsync
COPY --from=build /install /usr/local
USER billsync
WORKDIR /var/lib/billsync
# Configuration and secrets come from mounted files or the environment, never the image:
#   -v ./billsync.toml:/etc/billsync/billsync.toml:ro -e BILLSYNC_SECRET_KEY=...
ENV BILLSYNC_DATABASE_URL=sqlite:////var/lib/billsync/billsync.db
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"
# SIGTERM (docker stop) ends the daemon gracefully: it finishes or releases its work within 30 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["billsync"]
CMD ["run", "--config", "/etc/billsync/billsync.toml", "--host", "0.0.0.0", "--port", "8080"]
