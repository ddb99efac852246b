# trialgate: build once, run as an unprivileged user. SQLite is bundled; libpq comes from Debian.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY protocols ./protocols
COPY benches ./benches
RUN cargo build --release --locked --bin trialgate

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/trialgate --create-home trialgate
COPY --from=build /src/target/release/trialgate /usr/local/bin/trialgate
USER trialgate
WORKDIR /var/lib/trialgate
ENV TRIALGATE_DATA_DIR=/var/lib/trialgate/data \
    TRIALGATE_BIND=0.0.0.0:8080 \
    RUST_LOG=info
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["trialgate"]
CMD ["serve"]
