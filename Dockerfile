# Multi-stage build: a Rust toolchain builds the binary; the image holds only the binary, the
# default configuration and the trust anchors, and runs as a non-root user.
#   docker build -t lookaside .
#   docker run -d --name lookaside -p 127.0.0.1:53:53/udp -p 127.0.0.1:53:53/tcp lookaside
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p lookaside

FROM debian:bookworm-slim
RUN useradd --system --no-create-home --shell /usr/sbin/nologin lookaside \
 && mkdir -p /run/lookaside /etc/lookaside \
 && chown lookaside:lookaside /run/lookaside
COPY --from=build /src/target/release/lookaside /usr/local/bin/lookaside
COPY config/docker.toml /etc/lookaside/lookaside.toml
COPY trust-anchors /etc/lookaside/trust-anchors
USER lookaside
EXPOSE 53/udp 53/tcp
# Port 53 as a non-root user: Docker lets unprivileged processes bind low ports in the
# container's namespace (net.ipv4.ip_unprivileged_port_start=0 is its default since 20.10).
ENTRYPOINT ["/usr/local/bin/lookaside", "serve", "--config", "/etc/lookaside/lookaside.toml"]
