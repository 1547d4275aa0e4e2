# Undersigned: FastAPI service. SQLite in /data by default; set UNDERSIGNED_DATABASE_URL for PostgreSQL.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UNDERSIGNED_DATABASE_URL=sqlite:////data/undersigned.db

RUN groupadd --system undersigned && useradd --system --gid undersigned --home /app undersigned

# The letter PDF (WeasyPrint): Pango, and fonts for Latin, Cyrillic, Arabic (Noto) and Han/Kana
# (Noto CJK).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
       libharfbuzz-subset0 fonts-noto-core fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Every package pinned with its hashes, build tools included (regenerate with `make lock`).
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY seeds ./seeds
# Editable install keeps migrations/ and seeds/ beside the package, where the CLI looks for them.
# Gettext catalogs are compiled here, as root: at run time the app directory is read-only.
RUN pip install --no-deps --no-build-isolation -e . \
    && pybabel -q compile -d app/i18n/locales -D messages \
    && mkdir -p /data && chown undersigned:undersigned /data

USER undersigned
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/v1/healthz').status != 200)"
# `undersigned serve` runs uvicorn with the limits of the UNDERSIGNED_* settings (connection cap,
# keep-alive timeout, trusted proxies; body timeout and per-address caps in the app): pass them
# with `docker run -e`. Put a reverse proxy that buffers request bodies in front of it, and set
# UNDERSIGNED_FORWARDED_ALLOW_IPS to its address (docs/deployment.md).
CMD ["undersigned", "serve", "--host", "0.0.0.0", "--port", "8000"]
