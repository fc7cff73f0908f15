# A small static image: glimpse built against musl, copied onto scratch.
# Build: docker build -t glimpse .   Run: docker run -p 9191:9191 -v glimpse:/data glimpse
FROM rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin glimpse

FROM scratch
COPY --from=build /src/target/release/glimpse /glimpse
# Off loopback the no-token admin mode must be chosen explicitly: deny it here, and run
# behind Keystone's auth_token middleware (or set GLIMPSE_NOAUTH=allow on a trusted network).
ENV GLIMPSE_BIND=0.0.0.0:9191 \
    GLIMPSE_DATABASE_URL=sqlite:///data/glimpse.db \
    GLIMPSE_NOAUTH=deny \
    GLIMPSE_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 9191
USER 65534:65534
ENTRYPOINT ["/glimpse", "serve"]
