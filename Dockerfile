# syntax=docker/dockerfile:1
# Multi-stage build: dependencies are installed before the source is copied, so editing the bot does not
# re-download them; the runtime image holds only the virtual environment and runs as a non-root user.

FROM python:3.11-slim AS build
# PYTHONNODEBUGRANGES: the bytecode compiled below leaves out the column tables (only tracebacks' ^^^ markers
# use them), as the runtime stage runs it
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONNODEBUGRANGES=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# 1. dependencies only (a stub package lets pip resolve them from pyproject.toml)
COPY pyproject.toml README.md ./
RUN mkdir -p bot cogs && touch bot/__init__.py cogs/__init__.py \
    && pip install --no-compile . \
    && pip uninstall -y neverlose-reseller-bot \
    && python -OO -m compileall -q -j 0 /opt/venv/lib
# 2. the bot itself
COPY bot ./bot
COPY cogs ./cogs
# Every module is compiled to bytecode here, for the interpreter the runtime stage runs (-OO: PYTHONOPTIMIZE=2),
# and the image keeps it: the venv is read-only to the bot's user and PYTHONDONTWRITEBYTECODE is set, so
# nothing is compiled at run time (without it, every start would compile every module again: slower, and
# about 0.8 MB more resident memory).
RUN pip install --no-compile --no-deps . \
    && python -OO -m compileall -q -j 0 /opt/venv/lib

FROM python:3.11-slim AS runtime
# PYTHONOPTIMIZE=2 (-OO) leaves docstrings and asserts out of the loaded code and PYTHONNODEBUGRANGES the column
# tables: 4-5 MB less resident memory (docs/benchmarks.md); no command text comes from a docstring
# (tests/e2e/test_optimized_interpreter.py)
# SSL_CERT_FILE / SSL_CERT_DIR: the trusted CAs are the system's (ca-certificates, /etc/ssl/certs), read one at a
# time when a TLS connection needs one, instead of the whole bundle (about 140 certificates) parsed into every
# TLS context at import: aiohttp makes two. The same CAs are trusted; about 1.9 MB less resident memory. To trust
# a private CA as well, set SSL_CERT_FILE to a bundle that holds it (docs/benchmarks.md, memory; README).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONOPTIMIZE=2 \
    PYTHONNODEBUGRANGES=1 \
    SSL_CERT_FILE=/dev/null \
    SSL_CERT_DIR=/etc/ssl/certs \
    PATH=/opt/venv/bin:$PATH \
    DATABASE_PATH=/app/data/bot.sqlite3 \
    WEBHOOK_PORT=8080
# the base image ships the standard library without bytecode: compiled once here (as above), not at each start
RUN python -m compileall -q -j 0 -x '/(idlelib|tkinter|turtledemo|lib2to3|ensurepip|pydoc_data|site-packages)/' \
        /usr/local/lib/python3.11 \
    && useradd --create-home --uid 10001 --user-group bot \
    && mkdir -p /app/data \
    && chown bot:bot /app/data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER bot
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 CMD ["reseller-bot", "healthcheck"]
ENTRYPOINT ["reseller-bot"]
CMD ["run"]
