# Build: docker build -t ivrhub .   (docker-compose.yml runs it with PostgreSQL)
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/ivrhub ivrhub
COPY --from=build /src/target/release/ivrhub /usr/local/bin/ivrhub
USER ivrhub
EXPOSE 8080
ENV IVRHUB_LISTEN=0.0.0.0:8080
ENTRYPOINT ["ivrhub"]
CMD ["serve"]
