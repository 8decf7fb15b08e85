# Build: docker build -t ivrhub .   (docker-compose.yml runs it with PostgreSQL)
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked

FROM debian:bookworm-slim
# CA certificates: outbound HTTPS (alert webhooks). The data folder is the
# user's own (the token-signing key is kept there unless IVRHUB_JWT_SECRET
# is set); mount a volume on it so the key survives a new container.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/ivrhub ivrhub
COPY --from=build /src/target/release/ivrhub /usr/local/bin/ivrhub
USER ivrhub
WORKDIR /var/lib/ivrhub
VOLUME /var/lib/ivrhub
EXPOSE 8080
ENV IVRHUB_LISTEN=0.0.0.0:8080 IVRHUB_DATA_DIR=/var/lib/ivrhub IVRHUB_LOG_FORMAT=json
ENTRYPOINT ["ivrhub"]
CMD ["serve"]
