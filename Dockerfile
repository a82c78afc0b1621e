# syntax=docker/dockerfile:1
# The tessera binary: static (no cgo), built with the same flags as `make build`.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tessera ./cmd/tessera

# distroless/static: CA certificates and time zone data, no shell, user 65532.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="tessera" \
      org.opencontainers.image.description="Predictive customer segmentation as a batch pipeline" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/tessera-cdp/tessera" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /out/tessera /usr/local/bin/tessera
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tessera"]
