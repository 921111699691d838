# The emulator as a container image. Build: `docker build -t batch-emulator .`
# Run (Linux): see README, "Run it as a container". In short, the emulator drives the host's
# Docker engine through its socket, and node directories are bind-mounted into task containers
# by the host engine, so the data directory must have the same path inside and outside.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p batch-emulator

FROM debian:bookworm-slim
# Process tasks run here: a shell and the usual tools; tini reaps what tasks leave behind.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home --shell /bin/sh batch
COPY --from=build /src/target/release/batch-emulator /usr/local/bin/batch-emulator
# A non-root user; give it the Docker socket's group at run time
# (`--group-add $(stat -c %g /var/run/docker.sock)`).
USER 10001
ENV BATCH_EMULATOR_ADDR=0.0.0.0:8080 BATCH_EMULATOR_DATA_DIR=/var/lib/batch-emulator
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/batch-emulator"]
