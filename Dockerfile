# Production image of the platform. Nothing in development or tests needs
# Docker; this is for deployments on MongoDB and an external MinIO/S3.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/tyokyky ./cmd/tyokyky

# ffprobe reads uploads' durations and codecs; espeak-ng, ffmpeg and the
# fonts make the course's sample media (tyokyky media generate).
FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ffmpeg espeak-ng fonts-dejavu-core ca-certificates && rm -rf /var/lib/apt/lists/* && \
    useradd --system --uid 65532 --home /data nonroot && mkdir -p /data && chown nonroot /data
USER nonroot
COPY --from=build /out/tyokyky /usr/local/bin/tyokyky
ENV TYOKYKY_LISTEN=0.0.0.0:8080 \
    TYOKYKY_DATA_DIR=/data \
    TYOKYKY_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=6s CMD ["/usr/local/bin/tyokyky", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tyokyky"]
CMD ["serve"]
